/* silverlining — sl-service-redis: a Redis server of its own for each app (doc/SPEC.md "Services"). */
#include "../libsl/service-redis.h"

int main(int argc, char **argv)
{
	return sl_service_redis_main(argc, argv);
}
