use crate::cli::{GlobalOpts, HostCmd};

pub async fn run(_g: &GlobalOpts, _cmd: HostCmd) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
