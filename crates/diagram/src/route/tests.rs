//! The rules a drawing keeps, checked cell by cell on the routed model (the CLI's tests
//! follow the same wires in the printed text).

use super::*;
use crate::Shape;
use proptest::prelude::*;

fn inside(r: Rect, (x, y): Cell) -> bool {
    x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h
}

/// Whether `c` is a non-corner border cell of `r`.
fn on_border(r: Rect, (x, y): Cell) -> bool {
    let row = (y == r.y || y + 1 == r.y + r.h) && x > r.x && x + 1 < r.x + r.w;
    let column = (x == r.x || x + 1 == r.x + r.w) && y > r.y && y + 1 < r.y + r.h;
    row || column
}

fn adjacent(a: Cell, b: Cell) -> bool {
    a.0.abs_diff(b.0) + a.1.abs_diff(b.1) == 1
}

/// Every rule a drawing of `d` breaks, in words.
fn problems(d: &Diagram, drawing: &Drawing) -> Vec<String> {
    let l = &drawing.layout;
    let mut out = Vec::new();
    let mut seen = vec![0; drawing.connections.len()];
    for w in &drawing.wires {
        seen[w.connection] += 1;
    }
    for &i in &drawing.unrouted {
        seen[i] += 1;
    }
    if seen.iter().any(|&n| n != 1) {
        out.push(format!(
            "connections drawn or listed other than once: {seen:?}"
        ));
    }
    // Per cell: wires along the row, along the column, and wires that turn or end there.
    let mut across = vec![0; l.width * l.height];
    let mut down = vec![0; l.width * l.height];
    let mut whole = vec![0; l.width * l.height];
    let at = |(x, y): Cell| y * l.width + x;
    for w in &drawing.wires {
        let c = &drawing.connections[w.connection];
        let (from, to) = (l.nodes[c.from].0, l.nodes[c.to].0);
        let name = format!("wire {} -> {}", c.from, c.to);
        if !on_border(from, w.from_port) || !on_border(to, w.to_port) {
            out.push(format!("{name}: a port off its box's border"));
        }
        let path: Vec<Cell> = std::iter::once(w.from_port)
            .chain(w.cells.iter().copied())
            .chain(std::iter::once(w.to_port))
            .collect();
        if path.windows(2).any(|p| !adjacent(p[0], p[1])) {
            out.push(format!("{name}: a gap in the path"));
        }
        let own = [d.nodes[c.from].group, d.nodes[c.to].group];
        for (k, &cell) in w.cells.iter().enumerate() {
            if cell.0 >= l.width || cell.1 >= l.height {
                out.push(format!("{name}: {cell:?} off the drawing"));
                continue;
            }
            if l.nodes.iter().any(|(r, _)| inside(*r, cell)) {
                out.push(format!("{name}: {cell:?} in a box"));
            }
            for (g, (r, _)) in l.groups.iter().enumerate() {
                if inside(*r, cell) && !own.contains(&Some(g)) {
                    out.push(format!("{name}: {cell:?} in group {g}, not its own"));
                }
            }
            let (a, b) = (path[k], path[k + 2]);
            if k == 0 || k + 1 == w.cells.len() || (a.0 != b.0 && a.1 != b.1) {
                whole[at(cell)] += 1;
            } else if a.1 == b.1 {
                across[at(cell)] += 1;
            } else {
                down[at(cell)] += 1;
            }
        }
        if own[0] == own[1]
            && let Some(g) = own[0]
        {
            let r = l.groups[g].0;
            let strictly =
                |(x, y): Cell| x > r.x && y > r.y && x + 1 < r.x + r.w && y + 1 < r.y + r.h;
            if !w.cells.iter().all(|&c| strictly(c)) {
                out.push(format!("{name}: leaves its group"));
            }
        }
        // The label: over straight cells of this wire along one row, a line cell either
        // side.
        let len = w.label.text.chars().count();
        let span: Vec<Cell> = (w.label.x - 1..=w.label.x + len)
            .map(|x| (x, w.label.y))
            .collect();
        let straight = |c: Cell| {
            w.cells.iter().position(|&p| p == c).is_some_and(|k| {
                k > 0 && k + 1 < w.cells.len() && w.cells[k - 1].1 == c.1 && w.cells[k + 1].1 == c.1
            })
        };
        if w.label.text.is_empty() || !span.iter().all(|&c| straight(c)) {
            out.push(format!(
                "{name}: label {:?} not on a straight stretch of its wire",
                w.label.text
            ));
        }
    }
    for k in 0..across.len() {
        let (a, dn, wh) = (across[k], down[k], whole[k]);
        if a > 1 || dn > 1 || wh > 1 || (wh == 1 && a + dn > 0) {
            out.push(format!(
                "cell {:?} shared: {a} across, {dn} down, {wh} turning or ending",
                (k % l.width, k / l.width)
            ));
        }
    }
    for w in &drawing.wires {
        for x in w.label.x..w.label.x + w.label.text.chars().count() {
            if down[at((x, w.label.y))] > 0 {
                out.push(format!("a wire crosses the label {:?}", w.label.text));
            }
        }
    }
    out
}

#[test]
fn a_wire_between_side_by_side_boxes_carries_its_label() {
    let mut d = Diagram::new("t");
    let g = d.group("g", "region");
    let a = d.node("a", "api", Some(g), Shape::Service);
    let b = d.node("b", "db", Some(g), Shape::Store);
    d.edge(a, b, "writes");
    let drawing = draw(&d, 40, 0);
    assert_eq!(problems(&d, &drawing), Vec::<String>::new());
    assert_eq!(drawing.wires.len(), 1);
    assert_eq!(drawing.wires[0].label.text, "writes");
}

#[test]
fn a_wire_between_groups_that_are_not_neighbours_goes_round_the_one_between() {
    let mut d = Diagram::new("t");
    let groups: Vec<usize> = (0..3).map(|g| d.group(&g.to_string(), "region")).collect();
    let nodes: Vec<usize> = groups
        .iter()
        .map(|&g| d.node(&format!("n{g}"), "service", Some(g), Shape::Service))
        .collect();
    d.edge(nodes[0], nodes[2], "calls");
    d.edge(nodes[2], nodes[0], "calls");
    let drawing = draw(&d, 60, 0);
    assert!(drawing.unrouted.is_empty());
    assert_eq!(drawing.wires.len(), 1, "one wire, both ways");
    assert_eq!(problems(&d, &drawing), Vec::<String>::new());
}

fn arbitrary_diagram() -> impl Strategy<Value = Diagram> {
    let node = (0usize..5, any::<bool>(), "[a-z]{1,18}");
    let edge = (
        0usize..14,
        0usize..14,
        prop::sample::select(vec![
            "calls",
            "reads",
            "writes",
            "raft",
            "multi-leader, lww",
        ]),
    );
    (
        0usize..4,
        prop::collection::vec(node, 1..14),
        prop::collection::vec(edge, 0..20),
    )
        .prop_map(|(groups, nodes, edges)| {
            let mut d = Diagram::new("t");
            for g in 0..groups {
                d.group(&g.to_string(), &format!("region {g}"));
            }
            for (i, (g, store, label)) in nodes.iter().enumerate() {
                let group = (*g < groups).then_some(*g);
                let shape = if *store { Shape::Store } else { Shape::Service };
                d.node(&i.to_string(), label, group, shape);
            }
            let n = d.nodes.len();
            for (a, b, label) in edges {
                if a % n != b % n {
                    d.edge(a % n, b % n, label);
                }
            }
            d
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_drawing_keeps_the_rules(d in arbitrary_diagram(), width in 24usize..170) {
        let drawing = draw(&d, width, 0);
        prop_assert_eq!(problems(&d, &drawing), Vec::<String>::new());
        prop_assert!(drawing.layout.width <= width.max(crate::layout::MIN_WIDTH));
    }
}
