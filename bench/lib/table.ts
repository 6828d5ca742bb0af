/**
 * The one results table: each row a figure, the baseline it is compared with (measured in
 * the same run), their ratio, and the target (docs/benchmarks.md) when there is one.
 */
export interface Row {
  figure: string;
  value: string;
  baseline?: string;
  /** value / baseline, when both are comparable numbers. */
  ratio?: number;
  target?: string;
  /** Whether the target is met; undefined when the row has no target. */
  met?: boolean;
}

export class Results {
  readonly rows: Row[] = [];

  add(row: Row): void {
    this.rows.push(row);
    // Progress on stderr as rows come in, so a long run shows where it is.
    process.stderr.write(
      `[bench] ${row.figure}: ${row.value}${row.baseline ? ` vs ${row.baseline}` : ''}${row.ratio !== undefined ? ` (${row.ratio.toFixed(2)}×)` : ''}\n`,
    );
  }

  markdown(header: string): string {
    const cell = (s: string | undefined) => (s ?? '—').replace(/\|/g, '\\|');
    const lines = [
      header,
      '',
      '| figure | value | baseline | ratio | target | met |',
      '| --- | ---: | ---: | ---: | --- | :---: |',
      ...this.rows.map(
        (r) =>
          `| ${cell(r.figure)} | ${cell(r.value)} | ${cell(r.baseline)} | ${r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`} | ${cell(r.target)} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`,
      ),
    ];
    return `${lines.join('\n')}\n`;
  }
}
