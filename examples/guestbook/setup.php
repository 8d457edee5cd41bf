<?php
// guestbook: creates the table; update_fetch runs it with the php CLI on
// the new instance before it goes live (script:php setup.php).
require __DIR__ . '/guestbook.php';

$db = guestbook_db();
guestbook_setup($db);
$n = $db->query('SELECT COUNT(*) FROM entries')->fetch_row()[0];
echo "guestbook: table entries ready, $n entries\n";
