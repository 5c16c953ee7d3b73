//! The entry point fuzz targets and robustness tests drive: any bytes, any format,
//! through the reader and, if it reads, through every check on every model it fits.
//! Nothing here may panic; errors are values.

use crate::budget::Budget;
use crate::model::ModelKind;
use crate::read::{InputFormat, read_history};
use crate::report::{CheckName, run};
use std::time::Duration;

/// Read `data` as `format` and run every check that applies, each within a short budget.
pub fn read_and_check(data: &[u8], format: InputFormat) {
    let text = String::from_utf8_lossy(data);
    let Ok(history) = read_history(&text, Some(format)) else {
        return;
    };
    for model in ModelKind::ALL {
        let checks: Vec<CheckName> = CheckName::ALL
            .into_iter()
            .filter(|c| c.runs_on_histories())
            .collect();
        for check in checks {
            let mut budget = Budget::new(Some(Duration::from_millis(20)), 64 << 20);
            let _ = run(&history, model, &[check], &mut budget);
        }
    }
}
