<?php
// guestbook: the runner, which receives every request static/ does not
// answer.
//
// GET  /          the entries, newest first, and a form to add one
// POST /          adds one (name, message); answers 303 to the page
// GET  /healthz   the health check: the database answers
// GET  /_update   the environment the app receives, passwords masked
//                 (update_fetch shows it in the deploy's output)
require __DIR__ . '/guestbook.php';

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

function reply(int $status, string $type, string $body): void
{
    http_response_code($status);
    header("Content-Type: $type");
    echo $body;
}

// The path within the app: the location's path (SILVER_MATCH_PATH) is
// the app's prefix, on a node as behind silver serve.
$prefix = getenv('SILVER_MATCH_PATH') ?: '';
$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
if ($prefix !== '' && str_starts_with($path, $prefix)) {
    $path = substr($path, strlen($prefix));
}
if ($path === '') {
    $path = '/';
}
$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';

// A name and a message, or the reason they are refused.
function entry_from(array $form): array|string
{
    $name = trim((string) ($form['name'] ?? ''));
    $message = trim((string) ($form['message'] ?? ''));
    if (!preg_match('/^\P{C}{1,80}\z/u', $name)) {
        return 'A name is 1 to 80 characters, on one line.';
    }
    if (!preg_match('/^[\P{C}\n\r\t]{1,2000}\z/u', $message)) {
        return 'A message is 1 to 2000 characters.';
    }
    return [$name, str_replace("\r\n", "\n", $message)];
}

function page(string $prefix, mysqli $db, string $error = '', array $form = []): string
{
    $rows = $db->query('SELECT name, message, created FROM entries ORDER BY id DESC LIMIT 100');
    $items = '';
    foreach ($rows as $r) {
        $items .= '<li><p class="who">' . h($r['name']) . ' <time>' . h($r['created'])
            . "</time></p>\n<p>" . nl2br(h($r['message'])) . "</p></li>\n";
    }
    if ($items === '') {
        $items = "<li>No one has written yet.</li>\n";
    }
    $err = $error === '' ? '' : '<p class="error">' . h($error) . "</p>\n";
    $p = h($prefix);
    $name = h((string) ($form['name'] ?? ''));
    $message = h((string) ($form['message'] ?? ''));
    return <<<HTML
<!doctype html>
<html><head><meta charset="utf-8"><title>guestbook</title>
<link rel="stylesheet" href="$p/style.css"></head>
<body><h1>Guestbook</h1>
$err<form method="post" action="$p/">
<label>Name <input name="name" maxlength="80" required value="$name"></label>
<label>Message <textarea name="message" maxlength="2000" required>$message</textarea></label>
<button>Sign</button>
</form>
<ul class="entries">
$items</ul>
</body></html>

HTML;
}

try {
    if ($path === '/healthz' && $method === 'GET') {
        guestbook_db()->query('SELECT COUNT(*) FROM entries');
        reply(200, 'text/plain', "ok\n");
    } elseif ($path === '/_update' && $method === 'GET') {
        $lines = [];
        foreach (getenv() as $k => $v) {
            if (str_starts_with($k, 'SILVER_') || str_starts_with($k, 'CONFIG_') || $k === 'TEMP') {
                $lines[] = "$k=" . guestbook_shown($k, $v);
            }
        }
        sort($lines);
        $internal = ($_SERVER['HTTP_X_SILVERLINING_UPDATE'] ?? '') === '1';
        $lines[] = 'internal=' . ($internal ? 'yes' : 'no');
        $lines[] = 'SCRIPT_NAME=' . ($_SERVER['SCRIPT_NAME'] ?? '');
        reply(200, 'text/plain; charset=utf-8', implode("\n", $lines) . "\n");
    } elseif ($path === '/' && $method === 'GET') {
        reply(200, 'text/html; charset=utf-8', page($prefix, guestbook_db()));
    } elseif ($path === '/' && $method === 'POST') {
        $db = guestbook_db();
        $entry = entry_from($_POST);
        if (is_string($entry)) {
            reply(400, 'text/html; charset=utf-8', page($prefix, $db, $entry, $_POST));
        } else {
            $st = $db->prepare('INSERT INTO entries (name, message) VALUES (?, ?)');
            $st->bind_param('ss', $entry[0], $entry[1]);
            $st->execute();
            http_response_code(303);
            header("Location: $prefix/");
        }
    } elseif ($path === '/') {
        header('Allow: GET, POST');
        reply(405, 'text/plain', "method not allowed\n");
    } else {
        reply(404, 'text/plain', "not found\n");
    }
} catch (mysqli_sql_exception $e) {
    // the log gets the reason (never a password: mysqli does not put it in
    // its messages); the visitor a short page
    error_log('guestbook: database: ' . $e->getMessage());
    reply(500, 'text/plain', "the database is not answering\n");
}
