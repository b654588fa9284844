use crate::cli::{GlobalOpts, SecretCmd};

pub async fn run(_g: &GlobalOpts, _cmd: SecretCmd) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
