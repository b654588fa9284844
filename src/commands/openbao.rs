use crate::cli::{GlobalOpts, OpenbaoCmd};

pub async fn run(_g: &GlobalOpts, _cmd: OpenbaoCmd) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
