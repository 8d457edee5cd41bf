/* silverlining — what the fuzz harnesses share. */
#ifndef SL_FUZZ_H
#define SL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/*
 * Each harness in fuzz/ is a libFuzzer target (make fuzz builds and runs
 * them): LLVMFuzzerTestOneInput gets one input and feeds it to one parser
 * of the project the way a tool would. Every input must leave the process
 * as it found it (no leak, no file left behind), so a crash found later
 * replays alone.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A directory of this process's own (under $TMPDIR, else /dev/shm or
 * /tmp), made at
 * the first call and removed with everything in it at exit. Aborts when
 * it cannot be made.
 */
const char *fuzz_dir(void);

/* Writes DATA to DIR/NAME, replacing it. Aborts on failure. */
void fuzz_write(const char *dir, const char *name, const uint8_t *data,
		size_t size);

#endif
