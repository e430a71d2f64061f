// The alternative to Seam's own layered layout: ELK's layered algorithm (elkjs, the
// maintained JS port of the Eclipse Layout Kernel) on the same graphs, timed in the same
// run. `bench_layout --export DIR` writes the graphs Seam lays out (after aggregation:
// what the page would draw) as JSON; this lays each out with ELK, left to right, and
// prints the time beside the file's own figure for Seam. ELK's default (orthogonal)
// edge routing is used: its spline routing is slower still.
//
//   cargo run --release -p seam-analysis --example bench_layout -- --export /tmp/graphs
//   node end2end/bench/elk-layout.js /tmp/graphs
//
// ELK computes on the calling thread and has no bound on its work: graphs of more than
// ELK_MAX_NODES drawn nodes (default 6000) are skipped and reported as such.
const fs = require('fs');
const path = require('path');
const ELK = require('elkjs/lib/elk.bundled.js');

const MAX_NODES = Number(process.env.ELK_MAX_NODES || 6000);

async function layoutOnce(graph) {
  const elk = new ELK();
  const input = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.layered.spacing.nodeNodeBetweenLayers': '80',
      'elk.spacing.nodeNode': '16',
    },
    children: graph.nodes.map((n) => ({ id: n.id, width: n.width, height: n.height })),
    edges: graph.edges.map((e, i) => ({ id: `e${i}`, sources: [e.from], targets: [e.to] })),
  };
  const started = process.hrtime.bigint();
  const result = await elk.layout(input);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { ms, width: result.width, height: result.height };
}

async function main() {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node end2end/bench/elk-layout.js DIR (from bench_layout --export DIR)');
    process.exit(2);
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  console.log(`ELK layered (elkjs ${require('elkjs/package.json').version}, node ${process.version}) against Seam's layout, same graphs`);
  console.log('| graph | drawn nodes / edges | Seam layout ms | ELK layered ms | ELK size |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const file of files) {
    const graph = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    if (graph.nodes.length > MAX_NODES) {
      console.log(`| ${graph.name} | ${graph.nodes.length} / ${graph.edges.length} | ${graph.seam_layout_ms.toFixed(1)} | skipped (over ${MAX_NODES} nodes) | — |`);
      continue;
    }
    // Best of three while it is quick; once when it is slow.
    let best = null;
    for (let run = 0; run < 3; run++) {
      const result = await layoutOnce(graph);
      if (!best || result.ms < best.ms) best = result;
      if (result.ms > 5_000) break;
    }
    const elk = best.ms.toFixed(1);
    const size = `${Math.round(best.width)} × ${Math.round(best.height)}`;
    console.log(`| ${graph.name} | ${graph.nodes.length} / ${graph.edges.length} | ${graph.seam_layout_ms.toFixed(1)} | ${elk} | ${size} |`);
  }
  process.exit(0);
}

main().catch((err) => { console.error(err); process.exit(1); });
