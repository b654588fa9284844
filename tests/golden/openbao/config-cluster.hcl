# Managed by foundry: changes are overwritten on the next `foundry stack install`.
cluster_name = "lab"
api_addr     = "http://[fd00::12]:8200"
cluster_addr = "https://[fd00::12]:8201"
ui           = true
disable_standby_reads = true

storage "raft" {
  path    = "/openbao/file"
  node_id = "bao-2"

  retry_join {
    leader_api_addr = "http://10.214.0.11:8200"
  }

  retry_join {
    leader_api_addr = "http://bao-3.lan:8200"
  }
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  # No openbao.tls_cert/tls_key: plain HTTP. Tokens and secrets cross the network unencrypted.
  tls_disable     = true
}
