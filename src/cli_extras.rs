//! `nfv completion SHELL` and `nfv man`: shell completion scripts (clap_complete) and man
//! pages (clap_mangen), generated from the same clap definition the parser uses, so they
//! never drift from the real options.
//!
//! ```text
//! nfv completion bash > /etc/bash_completion.d/nfv      # or ~/.local/share/bash-completion/completions/nfv
//! nfv completion zsh  > "${fpath[1]}/_nfv"
//! nfv completion fish > ~/.config/fish/completions/nfv.fish
//! nfv man | man -l -                                    # read it now
//! nfv man --dir /usr/share/man/man1                     # nfv.1 and nfv-<command>.1 each
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

/// `nfv completion`.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// `nfv man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `nfv.1` and one `nfv-<command>.1` per command into DIR instead of printing
    /// `nfv.1`.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// `nfv completion SHELL`: the script on stdout.
///
/// # Errors
/// Writing to stdout failed.
pub fn completion(args: &CompletionArgs, mut cmd: clap::Command) -> Result<ExitCode> {
    let name = cmd.get_name().to_string();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, name, &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The roff source of `cmd`'s man page.
///
/// # Errors
/// Rendering failed (an I/O error of the in-memory buffer: none in practice).
pub fn man_page(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    Ok(buf)
}

/// `nfv man`: `nfv.1` on stdout, or every page into `--dir`.
///
/// # Errors
/// Writing failed.
pub fn man(args: &ManArgs, mut cmd: clap::Command) -> Result<ExitCode> {
    let Some(dir) = &args.dir else {
        let mut out = std::io::stdout().lock();
        out.write_all(&man_page(cmd)?)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    cmd.build();
    write_page(dir, "nfv.1", man_page(cmd.clone())?)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("nfv-{}", sub.get_name());
        // The page's NAME and SYNOPSIS say `nfv-run`, as git's pages do.
        let page = man_page(
            sub.clone()
                .name(name.clone())
                .bin_name(format!("nfv {}", sub.get_name())),
        )?;
        write_page(dir, &format!("{name}.1"), page)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_page(dir: &Path, file: &str, page: Vec<u8>) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}
