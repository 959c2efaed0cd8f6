"""Create or drop the throw-away CI databases; fails loudly if a server is down."""

import sys

import psycopg2
import pymysql


def main(action: str, name: str) -> None:
    pg = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=10)
    pg.autocommit = True
    my = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=10)
    with pg.cursor() as cur:
        # the test kit gives each pytest-xdist worker <name>_gw<N>; a killed run leaves them
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name.replace("_", "\\_") + "\\_gw%",))
        for (worker,) in cur.fetchall():
            cur.execute(f'DROP DATABASE IF EXISTS "{worker}"')
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if action == "create":
            cur.execute(f'CREATE DATABASE "{name}"')
    with my.cursor() as cur:
        # the test kit keeps the templates of other sets of migrations in <name>_kit_<hash>
        cur.execute("SHOW DATABASES LIKE %s", (name.replace("_", "\\_") + "\\_kit\\_%",))
        kits = cur.fetchall()
        cur.execute("SHOW DATABASES LIKE %s", (name.replace("_", "\\_") + "\\_gw%",))  # pytest-xdist workers'
        kits += cur.fetchall()
        for (kit,) in kits:
            cur.execute(f"DROP DATABASE IF EXISTS `{kit}`")
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        if action == "create":
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    print(f"{'created' if action == 'create' else 'dropped'} PostgreSQL and MariaDB databases {name}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
