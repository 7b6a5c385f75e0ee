use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = mailkeys::cli::Cli::parse();
    mailkeys::cli::run(cli).await
}
