//! SSH: sessions, exec, upload, known_hosts, quoting.
