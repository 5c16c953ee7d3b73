//! Sequential specifications the checkers compare histories against.
//!
//! A model steps in place and can undo the step, so the search never clones a state
//! just to try an operation; states are cloned only when the search memoises them.

use crate::history::{History, Op, OpFn, Status, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

/// What a checked operation does, in the form the models consume.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Action {
    /// A read that returned `Nil`, an integer, or a list.
    Read(Value),
    /// Overwrite with a value.
    Write(i64),
    /// Compare-and-set `(expected, new)`.
    Cas(i64, i64),
    /// Add an element (set) or a delta (counter).
    Add(i64),
    /// Append an element.
    Append(i64),
    /// Take an element out of a set.
    Remove(i64),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Read(v) => write!(f, "read {v}"),
            Action::Write(v) => write!(f, "write {v}"),
            Action::Cas(a, b) => write!(f, "cas {a}->{b}"),
            Action::Add(v) => write!(f, "add {v}"),
            Action::Append(v) => write!(f, "append {v}"),
            Action::Remove(v) => write!(f, "remove {v}"),
        }
    }
}

/// A sequential specification that steps and undoes in place.
pub trait Model {
    /// The abstract state.
    type State: Clone + Eq + Hash + fmt::Debug;
    /// What it takes to undo one step.
    type Undo;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// Apply `action` if it is legal in `state`, returning how to undo it.
    fn step(&self, state: &mut Self::State, action: &Action) -> Option<Self::Undo>;
    /// Undo a step.
    fn undo(&self, state: &mut Self::State, undo: Self::Undo);
}

/// A read/write/compare-and-set register, initially `nil`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

impl Model for Register {
    type State = Option<i64>;
    type Undo = Option<i64>;

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(&self, state: &mut Option<i64>, action: &Action) -> Option<Option<i64>> {
        let before = *state;
        match *action {
            Action::Read(Value::Nil) => state.is_none().then_some(before),
            Action::Read(Value::Int(v)) => (*state == Some(v)).then_some(before),
            Action::Write(v) => {
                *state = Some(v);
                Some(before)
            }
            Action::Cas(expected, new) => (*state == Some(expected)).then(|| {
                *state = Some(new);
                before
            }),
            _ => None,
        }
    }

    fn undo(&self, state: &mut Option<i64>, undo: Option<i64>) {
        *state = undo;
    }
}

/// A set of integers, initially empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Set;

/// How to undo one step of [`Set`].
#[derive(Clone, Copy, Debug)]
pub enum SetUndo {
    /// Nothing changed.
    Nothing,
    /// Take this newly added element out again.
    Added(i64),
    /// Put this removed element back.
    Removed(i64),
}

impl Model for Set {
    type State = BTreeSet<i64>;
    type Undo = SetUndo;

    fn init(&self) -> BTreeSet<i64> {
        BTreeSet::new()
    }

    fn step(&self, state: &mut BTreeSet<i64>, action: &Action) -> Option<SetUndo> {
        let changed = |yes: bool, undo: SetUndo| if yes { undo } else { SetUndo::Nothing };
        match action {
            Action::Add(e) => Some(changed(state.insert(*e), SetUndo::Added(*e))),
            Action::Remove(e) => Some(changed(state.remove(e), SetUndo::Removed(*e))),
            Action::Read(Value::List(xs)) => {
                // A set read is compared as a set: order and repeats do not matter.
                let all_present = xs.iter().all(|x| state.contains(x));
                let distinct = if xs.windows(2).all(|w| w[0] < w[1]) {
                    xs.len()
                } else {
                    xs.iter().collect::<BTreeSet<_>>().len()
                };
                (all_present && distinct == state.len()).then_some(SetUndo::Nothing)
            }
            _ => None,
        }
    }

    fn undo(&self, state: &mut BTreeSet<i64>, undo: SetUndo) {
        match undo {
            SetUndo::Nothing => {}
            SetUndo::Added(e) => {
                state.remove(&e);
            }
            SetUndo::Removed(e) => {
                state.insert(e);
            }
        }
    }
}

/// A counter, initially 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter;

impl Model for Counter {
    type State = i64;
    type Undo = i64;

    fn init(&self) -> i64 {
        0
    }

    fn step(&self, state: &mut i64, action: &Action) -> Option<i64> {
        match *action {
            // A sum outside 64 bits is no state a counter can be in: the increment cannot
            // take effect there (no silent wrap to a value a read might then match).
            Action::Add(d) => {
                *state = state.checked_add(d)?;
                Some(d)
            }
            Action::Read(Value::Int(v)) => (*state == v).then_some(0),
            _ => None,
        }
    }

    fn undo(&self, state: &mut i64, undo: i64) {
        // Exact: `step` only applied `undo` where the sum fitted.
        *state -= undo;
    }
}

/// An append-only list, initially empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListAppend;

impl Model for ListAppend {
    type State = Vec<i64>;
    /// Whether the step pushed an element.
    type Undo = bool;

    fn init(&self) -> Vec<i64> {
        Vec::new()
    }

    fn step(&self, state: &mut Vec<i64>, action: &Action) -> Option<bool> {
        match action {
            Action::Append(e) => {
                state.push(*e);
                Some(true)
            }
            Action::Read(Value::List(xs)) => (state == xs).then_some(false),
            Action::Read(Value::Nil) => state.is_empty().then_some(false),
            _ => None,
        }
    }

    fn undo(&self, state: &mut Vec<i64>, pushed: bool) {
        if pushed {
            state.pop();
        }
    }
}

/// The models `dsys check --model` accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ModelKind {
    /// One register (read, write, cas); keys are not allowed.
    Register,
    /// A register per key.
    Kv,
    /// A multi-value register per key: reads return every sibling, as a list. Judged by
    /// the session checks and `no-lost-writes` only: it has no sequential specification.
    MvRegister,
    /// A set per key (add, read).
    Set,
    /// A counter per key (add, read).
    Counter,
    /// An append-only list per key (append, read).
    ListAppend,
}

impl ModelKind {
    /// Every model.
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Register,
        ModelKind::Kv,
        ModelKind::MvRegister,
        ModelKind::Set,
        ModelKind::Counter,
        ModelKind::ListAppend,
    ];

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::Kv => "kv",
            ModelKind::MvRegister => "mv-register",
            ModelKind::Set => "set",
            ModelKind::Counter => "counter",
            ModelKind::ListAppend => "list-append",
        }
    }

    /// Guess the model from the operations in a history.
    pub fn infer(history: &History) -> ModelKind {
        let has = |f: OpFn| history.ops.iter().any(|o| o.f == f);
        if has(OpFn::Append) {
            ModelKind::ListAppend
        } else if has(OpFn::Remove) {
            ModelKind::Set
        } else if has(OpFn::Add) {
            let list_reads = history
                .ops
                .iter()
                .any(|o| o.f == OpFn::Read && matches!(o.output, Value::List(_)));
            if list_reads {
                ModelKind::Set
            } else {
                ModelKind::Counter
            }
        } else if history
            .ops
            .iter()
            .any(|o| o.f == OpFn::Read && matches!(o.output, Value::List(_)))
        {
            ModelKind::MvRegister
        } else if history.keys.len() > 1 {
            ModelKind::Kv
        } else {
            ModelKind::Register
        }
    }

    /// Convert `op` into the action the model checks, or explain why it cannot.
    /// Indeterminate reads carry no information and give `Ok(None)`.
    pub fn action(self, op: &Op) -> Result<Option<Action>, String> {
        if op.f == OpFn::Read && (op.status == Status::Indeterminate || op.output == Value::Unknown)
        {
            return Ok(None);
        }
        let int = |v: &Value| match v {
            Value::Int(i) => Ok(*i),
            other => Err(format!("expected an integer value, got {other}")),
        };
        // A multi-value register's writes are a register's; its reads (lists of siblings)
        // have no action, so the sequential checkers refuse its histories.
        let register = matches!(
            self,
            ModelKind::Register | ModelKind::Kv | ModelKind::MvRegister
        );
        let action = match (op.f, self) {
            (OpFn::Read, ModelKind::MvRegister) => {
                return Err(
                    "a multi-value register read has no sequential specification".to_string(),
                );
            }
            (OpFn::Read, _) if register => match &op.output {
                Value::Nil | Value::Int(_) => Action::Read(op.output.clone()),
                other => {
                    return Err(format!(
                        "a register read returns nil or an integer, not {other}"
                    ));
                }
            },
            (OpFn::Write, _) if register => Action::Write(int(&op.input)?),
            (OpFn::Cas, _) if register => match &op.input {
                Value::List(pair) if pair.len() == 2 => Action::Cas(pair[0], pair[1]),
                other => return Err(format!("a cas takes [expected new], not {other}")),
            },
            (OpFn::Read, ModelKind::Counter) => Action::Read(Value::Int(int(&op.output)?)),
            (OpFn::Read, ModelKind::Set) => match &op.output {
                Value::List(xs) => Action::Read(Value::List(xs.clone())),
                Value::Nil => Action::Read(Value::List(Vec::new())),
                other => return Err(format!("a set read returns a list, not {other}")),
            },
            (OpFn::Read, ModelKind::ListAppend) => match &op.output {
                Value::List(_) | Value::Nil => Action::Read(op.output.clone()),
                other => return Err(format!("a list read returns a list, not {other}")),
            },
            (OpFn::Add, ModelKind::Set | ModelKind::Counter) => Action::Add(int(&op.input)?),
            (OpFn::Append, ModelKind::ListAppend) => Action::Append(int(&op.input)?),
            (OpFn::Remove, ModelKind::Set) => Action::Remove(int(&op.input)?),
            (f, model) => {
                return Err(format!(
                    "the {} model has no `{}` operation",
                    model.name(),
                    f.name()
                ));
            }
        };
        Ok(Some(action))
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
                format!("unknown model `{s}` (expected one of {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every step is undone exactly.
    fn round_trip<M: Model>(m: &M, state: &mut M::State, actions: &[Action]) {
        for a in actions {
            let before = state.clone();
            if let Some(u) = m.step(state, a) {
                m.undo(state, u);
            }
            assert_eq!(*state, before, "{a}");
        }
    }

    #[test]
    fn register_semantics() {
        let r = Register;
        let mut s = r.init();
        assert!(r.step(&mut s, &Action::Read(Value::Nil)).is_some());
        assert!(r.step(&mut s, &Action::Cas(1, 2)).is_none());
        r.step(&mut s, &Action::Write(1)).unwrap();
        assert!(r.step(&mut s, &Action::Read(Value::Int(1))).is_some());
        assert!(r.step(&mut s, &Action::Read(Value::Nil)).is_none());
        r.step(&mut s, &Action::Cas(1, 2)).unwrap();
        assert_eq!(s, Some(2));
        round_trip(
            &r,
            &mut s,
            &[
                Action::Write(5),
                Action::Cas(2, 3),
                Action::Cas(9, 3),
                Action::Read(Value::Int(2)),
            ],
        );
    }

    #[test]
    fn a_counter_never_wraps() {
        let mut s = Counter.init();
        Counter.step(&mut s, &Action::Add(i64::MAX)).unwrap();
        assert!(Counter.step(&mut s, &Action::Add(1)).is_none(), "no wrap");
        assert_eq!(s, i64::MAX, "a refused step leaves the state alone");
        assert!(
            Counter
                .step(&mut s, &Action::Read(Value::Int(i64::MIN)))
                .is_none()
        );
        let mut s = Counter.init();
        Counter.step(&mut s, &Action::Add(i64::MIN)).unwrap();
        assert!(Counter.step(&mut s, &Action::Add(-1)).is_none());
        round_trip(&Counter, &mut s, &[Action::Add(1), Action::Add(-1)]);
    }

    #[test]
    fn set_counter_list_semantics() {
        let mut s = Set.init();
        Set.step(&mut s, &Action::Add(3)).unwrap();
        Set.step(&mut s, &Action::Add(3)).unwrap();
        assert!(
            Set.step(&mut s, &Action::Read(Value::List(vec![3])))
                .is_some()
        );
        assert!(
            Set.step(&mut s, &Action::Read(Value::List(vec![3, 3])))
                .is_some()
        );
        assert!(
            Set.step(&mut s, &Action::Read(Value::List(vec![])))
                .is_none()
        );
        assert!(
            Set.step(&mut s, &Action::Read(Value::List(vec![4])))
                .is_none()
        );
        round_trip(&Set, &mut s, &[Action::Add(3), Action::Add(7)]);

        let mut c = Counter.init();
        Counter.step(&mut c, &Action::Add(5)).unwrap();
        Counter.step(&mut c, &Action::Add(-2)).unwrap();
        assert!(Counter.step(&mut c, &Action::Read(Value::Int(3))).is_some());
        assert!(Counter.step(&mut c, &Action::Read(Value::Int(5))).is_none());
        round_trip(&Counter, &mut c, &[Action::Add(9)]);

        let mut l = ListAppend.init();
        assert!(ListAppend.step(&mut l, &Action::Read(Value::Nil)).is_some());
        ListAppend.step(&mut l, &Action::Append(1)).unwrap();
        ListAppend.step(&mut l, &Action::Append(2)).unwrap();
        assert!(
            ListAppend
                .step(&mut l, &Action::Read(Value::List(vec![1, 2])))
                .is_some()
        );
        assert!(
            ListAppend
                .step(&mut l, &Action::Read(Value::List(vec![2, 1])))
                .is_none()
        );
        round_trip(
            &ListAppend,
            &mut l,
            &[Action::Append(3), Action::Read(Value::List(vec![1, 2]))],
        );
    }

    #[test]
    fn model_names_parse() {
        for m in ModelKind::ALL {
            assert_eq!(m.name().parse::<ModelKind>().unwrap(), m);
        }
        assert!(
            "queue"
                .parse::<ModelKind>()
                .unwrap_err()
                .contains("unknown model `queue`")
        );
    }
}
