use crate::cli::{GlobalOpts, StackCmd};

pub async fn run(_g: &GlobalOpts, _cmd: StackCmd) -> anyhow::Result<i32> {
    anyhow::bail!("not implemented yet")
}
