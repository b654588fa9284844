# Managed by foundry: changes are overwritten on the next `foundry stack install`.
cluster_name = "lab"
api_addr     = "https://10.214.0.11:8300"
cluster_addr = "https://10.214.0.11:8201"
ui           = true
disable_standby_reads = true

storage "raft" {
  path    = "/openbao/file"
  node_id = "bao-1"
}

listener "tcp" {
  address         = "0.0.0.0:8300"
  cluster_address = "0.0.0.0:8201"
  tls_cert_file   = "/openbao/tls/tls.crt"
  tls_key_file    = "/openbao/tls/tls.key"
}
