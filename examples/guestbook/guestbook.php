<?php
// guestbook: what index.php (the web) and setup.php (update_fetch, with the
// php CLI) share: the database, reached with the app's CONFIG_MYSQL_*.

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);

function guestbook_db(): mysqli
{
    // On a node the host is localhost (MariaDB's socket); on the laptop
    // ~/.silverlining.conf may name a host and port, or leave both empty.
    $host = getenv('CONFIG_MYSQL_HOST') ?: 'localhost';
    $port = (int) (getenv('CONFIG_MYSQL_PORT') ?: 3306);
    $db = new mysqli($host, getenv('CONFIG_MYSQL_USER') ?: null,
        getenv('CONFIG_MYSQL_PASSWORD') ?: null,
        getenv('CONFIG_MYSQL_DBNAME') ?: null, $port);
    $db->set_charset('utf8mb4');
    return $db;
}

// The table, made if it is not there: running it again changes nothing.
function guestbook_setup(mysqli $db): void
{
    $db->query('CREATE TABLE IF NOT EXISTS entries (
        id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(80) NOT NULL,
        message TEXT NOT NULL,
        created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
    ) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
}

// A value as a deploy log may show it: never a password.
function guestbook_shown(string $name, string $value): string
{
    if (str_contains($name, 'PASSWORD')) {
        return $value === '' ? '' : '********';
    }
    return preg_replace('#(://[^:/@]*:)[^@]*@#', '$1********@', $value);
}
