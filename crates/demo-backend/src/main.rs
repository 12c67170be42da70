fn main() -> anyhow::Result<()> {
    anyhow::bail!("demo-backend is not built yet: see its issue")
}
