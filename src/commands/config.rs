use crate::cli::{GlobalOpts, ConfigCmd};

pub async fn run(_g: &GlobalOpts, _cmd: ConfigCmd) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
