//! `dsys check`: read a history, judge it, print the verdict, then write the timeline.

use crate::args::{CheckArgs, CheckList, Format};
use crate::exit::{Exit, Failure, verdict_and_writes};
use crate::output::{Output, write_file};
use crate::progress;
use dsys_check::read::InputLimits;
use dsys_check::{CheckFileError, CheckRequest, check_file};
use dsys_check::{CheckName, CheckReport, Verdict};

pub fn check(a: CheckArgs, out: Output) -> Result<(), Failure> {
    let checks = CheckList::join(&a.checks).map_or_else(|| vec![CheckName::Linearizable], |l| l.0);
    let request = CheckRequest {
        format: a.input_format,
        model: a.model,
        checks,
        timeout: Some(a.timeout),
        limits: InputLimits {
            max_bytes: a.max_input,
            ..InputLimits::default()
        },
    };
    let (history, report) = {
        let _spinner = progress::Spinner::start("checking", progress::enabled(out.quiet));
        check_file(&a.history, &request).map_err(|e| {
            let exit = match e {
                CheckFileError::Io { .. } => Exit::Io,
                CheckFileError::Bad { .. } => Exit::BadInput,
            };
            Failure {
                exit,
                error: e.into(),
            }
        })?
    };
    let text = match a.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Text => CheckReport::to_table(&report),
    };
    out.print(&text)?;
    let verdict = match report.overall() {
        Verdict::Pass => Ok(()),
        Verdict::Fail => Err(Failure::new(Exit::Violation, "violation found")),
        Verdict::Unknown => Err(Failure::new(
            Exit::Unknown,
            "unknown: a check ran out of budget",
        )),
    };
    let writes = match &a.html {
        Some(path) => {
            let title = format!("dsys check {}", a.history.display());
            let page = dsys_check::timeline::render(&history, &report, &title);
            write_file(path, page.as_bytes())
        }
        None => Ok(()),
    };
    verdict_and_writes(verdict, writes)
}
