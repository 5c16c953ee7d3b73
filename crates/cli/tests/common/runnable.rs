//! The runnable parts of a Markdown page: `sh` blocks of `dsys` commands with the exit
//! code each ends with and the text it prints, and the figures the prose quotes beside
//! them.
//!
//! ````text
//! A W=1, R=1 quorum read a value older than the latest write on **317** reads.
//!
//! ```sh
//! dsys grid --protocol leaderless:w=1,r=1 \
//!     --nemesis halves --seeds 20
//! # exit 0
//! # => stale
//! ```
//! ````
//!
//! - A command is a line starting `dsys `, continued over lines ending in `\`.
//! - `# exit N` (optionally followed by why: `# exit N: why`) is the exit code of the
//!   command above it; every command states one.
//! - `# => TEXT` is text the command above prints (stdout or stderr; runs of spaces count
//!   as one, so table columns need not be counted).
//! - Other `#` lines are comments. Any other line in an `sh` block is an error: every
//!   shell block of the skill runs.
//! - A **bold** span that starts with a digit, in the prose since the last heading or
//!   block, is a figure quoted from the block that follows it: one of that block's
//!   commands prints it. A bold figure with no block after it in its section is an error.
//!
//! [`run_blocks`] runs a page's blocks and checks all of it; the skill's test and the
//! evidence page's test both use it.

/// One command and what the page says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The arguments after `dsys`.
    pub args: Vec<String>,
    /// Its exit code.
    pub exit: i32,
    /// Text it prints.
    pub prints: Vec<String>,
    /// 1-based line of the page where it starts.
    pub line: usize,
}

/// One `sh` block: its commands and the figures the prose before it quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The commands, in order.
    pub commands: Vec<Command>,
    /// Bold figures from the prose just before the block.
    pub figures: Vec<String>,
}

/// What a page holds: its runnable blocks, and the lines of every fenced block (for the
/// width rule).
#[derive(Debug, Default)]
pub struct Page {
    /// The `sh` blocks.
    pub blocks: Vec<Block>,
    /// Every line inside a fenced block, with its 1-based line number.
    pub fenced: Vec<(usize, String)>,
}

/// Parse `text`; errors name the line.
pub fn parse(text: &str) -> Result<Page, String> {
    let mut page = Page::default();
    let mut figures: Vec<String> = Vec::new();
    let mut figures_line = 0;
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            let lang = trimmed.trim_start_matches('`').trim();
            let mut body = Vec::new();
            for (m, inner) in lines.by_ref() {
                if inner.trim_start().starts_with("```") {
                    break;
                }
                body.push((m, inner.to_string()));
            }
            page.fenced.extend(body.iter().cloned());
            if lang == "sh" {
                let commands = commands(&body)?;
                page.blocks.push(Block {
                    commands,
                    figures: std::mem::take(&mut figures),
                });
            }
            continue;
        }
        if trimmed.starts_with('#') && !figures.is_empty() {
            return Err(format!(
                "line {figures_line}: figures {figures:?} have no dsys block after them in their section"
            ));
        }
        if figures.is_empty() {
            figures_line = n;
        }
        figures.extend(bold_figures(line));
    }
    if !figures.is_empty() {
        return Err(format!(
            "line {figures_line}: figures {figures:?} have no dsys block after them"
        ));
    }
    Ok(page)
}

/// The bold spans of `line` that start with a digit: quoted figures (a bold lead-in such
/// as "**W = R = 1 reads stale values.**" is prose).
fn bold_figures(line: &str) -> Vec<String> {
    line.split("**")
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

fn commands(body: &[(usize, String)]) -> Result<Vec<Command>, String> {
    let mut out: Vec<Command> = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let (n, line) = (body[i].0, body[i].1.trim());
        i += 1;
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("dsys ") {
            let mut text = rest.to_string();
            while text.ends_with('\\') && i < body.len() {
                text.pop();
                text.push(' ');
                text.push_str(body[i].1.trim());
                i += 1;
            }
            if text.contains(['"', '\'', '$', '|', '>', '<', '`']) {
                return Err(format!(
                    "line {n}: only plain words are run (no quotes, variables or redirection)"
                ));
            }
            out.push(Command {
                args: text.split_whitespace().map(str::to_string).collect(),
                exit: -1,
                prints: Vec::new(),
                line: n,
            });
        } else if let Some(code) = line.strip_prefix("# exit ") {
            let last = out
                .last_mut()
                .ok_or(format!("line {n}: `# exit` before any command"))?;
            // The code, then anything after it (`# exit 1: why`, `# exit 0; and more`).
            let digits: String = code.chars().take_while(char::is_ascii_digit).collect();
            last.exit = digits
                .parse()
                .map_err(|_| format!("line {n}: `# exit {code}` is not an exit code"))?;
        } else if let Some(text) = line.strip_prefix("# => ") {
            let last = out
                .last_mut()
                .ok_or(format!("line {n}: `# =>` before any command"))?;
            last.prints.push(text.to_string());
        } else if !line.starts_with('#') {
            return Err(format!(
                "line {n}: `{line}` is not a dsys command; every sh block of the skill runs"
            ));
        }
    }
    if let Some(c) = out.iter().find(|c| c.exit < 0) {
        return Err(format!("line {}: the command states no `# exit N`", c.line));
    }
    Ok(out)
}

/// `text` with every run of whitespace as one space, for matching table output.
pub fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Run every command of `page` (from `file`, for messages) with `cwd` as its working
/// directory: each must end with its stated exit code and print its `# =>` texts, and
/// each block's output must hold the figures quoted before it. Returns the commands run.
pub fn run_blocks(file: &str, page: &Page, cwd: &std::path::Path) -> usize {
    let mut ran = 0;
    for block in &page.blocks {
        let mut outputs = String::new();
        for c in &block.commands {
            let o = super::dsys_in(cwd, &c.args);
            let at = format!("{file}:{} dsys {}", c.line, c.args.join(" "));
            let (out, err) = (super::stdout(&o), super::stderr(&o));
            assert_eq!(o.status.code(), Some(c.exit), "{at}\n{err}");
            let printed = squeeze(&format!("{out}\n{err}"));
            for text in &c.prints {
                assert!(
                    printed.contains(&squeeze(text)),
                    "{at}: does not print {text:?}\n{printed}"
                );
            }
            outputs.push_str(&printed);
            outputs.push('\n');
            ran += 1;
        }
        for figure in &block.figures {
            assert!(
                outputs.contains(&squeeze(figure)),
                "{file}: the figure {figure:?} is not in the output of the block after it"
            );
        }
    }
    ran
}
