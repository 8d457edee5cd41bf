<?php
/*
 * silverlining — the router of sl-serve for PHP apps (php -S HOST:PORT
 * router.php), the laptop's stand-in for nginx and php-fpm on a node:
 * static/ first, then the writable root ($CONFIG_WRITABLE_ROOT/HOST/,
 * then $CONFIG_WRITABLE_ROOT/), then the app: its runner for every
 * dynamic request, or the .php file under php_root (a path ending in /:
 * its directory's index.php; its other files served as they are). sl-serve sets
 * SL_SERVE_APP (the app directory), SL_SERVE_RUNNER or SL_SERVE_PHP_ROOT,
 * and SL_SERVE_TOKEN, which marks its own update_fetch requests: only
 * those get HTTP_X_SILVERLINING_UPDATE.
 */

// the path RELATIVE under ROOT, or null: nothing outside ROOT
function sl_serve_under($root, $relative)
{
	if ($root === false || $root === '')
		return null;
	$root = realpath($root);
	$full = realpath($root . '/' . ltrim($relative, '/'));
	if ($root === false || $full === false)
		return null;
	if ($full !== $root && strncmp($full, rtrim($root, '/') . '/', strlen(rtrim($root, '/')) + 1))
		return null;
	return $full;
}

function sl_serve_file($file)
{
	static $types = [
		'css' => 'text/css', 'js' => 'text/javascript', 'html' => 'text/html',
		'htm' => 'text/html', 'txt' => 'text/plain', 'json' => 'application/json',
		'xml' => 'application/xml', 'svg' => 'image/svg+xml', 'png' => 'image/png',
		'jpg' => 'image/jpeg', 'jpeg' => 'image/jpeg', 'gif' => 'image/gif',
		'ico' => 'image/vnd.microsoft.icon', 'webp' => 'image/webp', 'pdf' => 'application/pdf',
		'woff' => 'font/woff', 'woff2' => 'font/woff2', 'wasm' => 'application/wasm',
	];
	$ext = strtolower(pathinfo($file, PATHINFO_EXTENSION));
	header('Content-Type: ' . ($types[$ext] ?? 'application/octet-stream'));
	header('Content-Length: ' . filesize($file));
	if ($_SERVER['REQUEST_METHOD'] !== 'HEAD')
		readfile($file);
	return true;
}

function sl_serve_route()
{
	$app = getenv('SL_SERVE_APP');
	$token = getenv('SL_SERVE_TOKEN');
	$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
	$host = strtolower(explode(':', $_SERVER['HTTP_HOST'] ?? 'localhost')[0]);

	// what nginx sets or strips on a node, nobody outside sets here
	$internal = $token !== false && ($_SERVER['HTTP_X_SILVERLINING_UPDATE'] ?? '') === $token;
	unset($_SERVER['HTTP_X_SILVERLINING_UPDATE'], $_SERVER['HTTP_X_FORWARDED_PROTO']);
	if ($internal)
		$_SERVER['HTTP_X_SILVERLINING_UPDATE'] = '1';
	foreach (['SL_SERVE_APP', 'SL_SERVE_TOKEN', 'SL_SERVE_RUNNER', 'SL_SERVE_PHP_ROOT'] as $k)
		$own[$k] = getenv($k);
	foreach (array_keys($own) as $k)
		putenv($k);
	// as php-fpm's clear_env = no on a node: the environment in $_SERVER too
	foreach (getenv() as $k => $v)
		if (!isset($_SERVER[$k]))
			$_SERVER[$k] = $v;

	if (in_array($_SERVER['REQUEST_METHOD'], ['GET', 'HEAD'])) {
		$writable = getenv('CONFIG_WRITABLE_ROOT');
		$roots = [$app . '/static'];
		if ($writable !== false && $writable !== '')
			array_push($roots, $writable . '/' . $host, $writable);
		foreach ($roots as $root) {
			$f = sl_serve_under($root, $path);
			if ($f !== null && is_file($f))
				return sl_serve_file($f);
		}
	}
	$_SERVER['SCRIPT_NAME'] = '';
	if ($own['SL_SERVE_RUNNER'] !== false) {
		$script = $app . '/' . $own['SL_SERVE_RUNNER'];
	} else {
		$root = $app . '/' . $own['SL_SERVE_PHP_ROOT'];
		$f = sl_serve_under($root, $path);
		// as nginx on a node: a path ending in / runs its directory's index.php
		if ($f !== null && is_dir($f))
			$f = substr($path, -1) === '/' && is_file($f . '/index.php') ? $f . '/index.php' : null;
		if ($f === null || !is_file($f)) {
			http_response_code(404);
			echo "404 Not Found: nothing under php_root for ", htmlspecialchars($path), "\n";
			return true;
		}
		if (substr($f, -4) !== '.php')
			return sl_serve_file($f);
		$script = $f;
		$_SERVER['SCRIPT_NAME'] = substr($f, strlen(realpath($root)));
		$_SERVER['DOCUMENT_ROOT'] = realpath($root);
	}
	$_SERVER['SCRIPT_FILENAME'] = $script;
	$_SERVER['PHP_SELF'] = $_SERVER['SCRIPT_NAME'];
	chdir(dirname($script));
	sl_serve_script($script);
	return false;
}

// the script the app's request runs, kept here so the app's globals hold nothing of ours
function sl_serve_script($set = null)
{
	static $script;

	if ($set !== null)
		$script = $set;
	return $script;
}

if (sl_serve_route())
	return true;
require sl_serve_script();
