# Copyright: (c) 2026, bemi.postgresql contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The option names follow community.postgresql so that users can reuse
    # their module_defaults for both collections.
    DOCUMENTATION = r"""
options:
  login_user:
    description:
      - The role to connect as.
      - Falls back to the E(PGUSER) environment variable of the managed host, then to V(postgres).
    type: str
    default: postgres
  login_password:
    description:
      - The password of O(login_user).
      - Falls back to E(PGPASSWORD). A C(~/.pgpass) file (or E(PGPASSFILE)) is honoured by libpq when this is not set.
    type: str
  login_host:
    description:
      - Host name or IP address of the server.
      - Empty (the default) connects through the unix socket in O(login_unix_socket).
      - Falls back to E(PGHOST).
    type: str
    default: ''
  login_unix_socket:
    description:
      - Directory of the server's unix socket, used when O(login_host) is empty.
      - Empty uses libpq's compiled-in default directory.
    type: str
    default: ''
  login_port:
    description:
      - Port of the server. Falls back to E(PGPORT), then to V(5432).
      - The alias C(port) is part of this collection's interface and is not deprecated.
    type: int
    default: 5432
    aliases: [port]
  login_db:
    description:
      - Database to connect to. Falls back to E(PGDATABASE); without either, libpq uses the database named after O(login_user).
      - The alias C(db) is part of this collection's interface and is not deprecated.
    type: str
    aliases: [db]
  ssl_mode:
    description:
      - libpq C(sslmode) of the connection. Falls back to E(PGSSLMODE).
    type: str
    default: prefer
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - File with the certificate authorities that the server's certificate must be signed by (libpq C(sslrootcert)).
    type: path
    aliases: [ssl_rootcert]
  ssl_cert:
    description:
      - Client certificate file (libpq C(sslcert)).
    type: path
  ssl_key:
    description:
      - Client private key file (libpq C(sslkey)).
    type: path
  connect_timeout:
    description:
      - Seconds to wait for the connection to be made.
    type: int
    default: 10
  connect_params:
    description:
      - Further libpq connection parameters, passed last, so they override the options above.
      - 'For example C({"application_name": "deploy", "options": "-c statement_timeout=30s"}).'
    type: dict
    default: {}
notes:
  - Runs on the managed host, which needs C(psycopg2) (or C(psycopg2-binary)) for the Python that Ansible uses there.
    When psycopg2 is missing, C(psycopg) 3 is used instead.
  - Every statement the module runs, or would run in check mode, is returned in RV(queries). Secrets in it are replaced by C(********).
  - When the connection fails, the failed result holds C(connect_error), a stable code for the cause (such as
    V(server_unreachable) or V(authentication_failed); the troubleshooting guide lists them all), next to the message
    with its fix, and C(connect_error_transient), true when the cause passes by itself (V(server_unreachable),
    V(server_not_ready) for a server starting up or shutting down, V(too_many_connections)), so a retry may wait it out.
  - A statement that the server cut off (a restart or shutdown) fails with C(connect_error=connection_lost) and
    C(connect_error_transient=true) as well.
requirements:
  - psycopg2 >= 2.8, or psycopg >= 3.1
"""
