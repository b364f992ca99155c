using System.Globalization;
using System.Text;
using ScottPlot;

namespace Presence.Simulator;

/// <summary>Writes results.md and the SVG charts.</summary>
internal static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Table(IReadOnlyList<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| big rooms | strategy | presence-caused transactions | vs naive | riding chat | entries | bytes | mean / peak sends/s (peak÷mean; Poisson) | prompt staleness p50 / p99 / max | lazy staleness p50 / p99 / max | undelivered | remote views lost (samples; views) | outage recovery | engine memory per user |");
        sb.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | --- | ---: | ---: |");
        foreach (var r in results)
        {
            var naive = results.FirstOrDefault(x => x.BigRoomsExcluded == r.BigRoomsExcluded && x.Strategy == "naive");
            string ratio = naive is null || r.PresenceTransactions == 0 ? "–" : string.Format(Inv, "{0:F1}×", (double)naive.PresenceTransactions / r.PresenceTransactions);
            sb.AppendLine(string.Format(
                Inv,
                "| {0} | {1} | {2:N0} | {3} | {4:N0} | {5:N0} | {6:N1} MB | {7:F2} / {8:F2} ({9:F2}×; {10:F2}×) | {11:F1} / {12:F1} / {13:F1} s | {14:F1} / {15:F1} / {16:F1} s | {17:N0} | {18:N0} of {19:N0}; {20:N0} | {21} | {22} |",
                r.BigRoomsExcluded ? "excluded" : "shared",
                r.Strategy,
                r.PresenceTransactions,
                ratio,
                r.Riding,
                r.Entries,
                r.Bytes / 1e6,
                r.MeanPerSecond,
                r.PeakPerSecond,
                r.MeanPerSecond == 0 ? 0 : r.PeakPerSecond / r.MeanPerSecond,
                r.PoissonPeakRatio,
                r.Prompt.P50,
                r.Prompt.P99,
                r.Prompt.Max,
                r.Lazy.P50,
                r.Lazy.P99,
                r.Lazy.Max,
                r.Undelivered,
                r.LostSamples,
                r.ViewSamples,
                r.LostViews,
                !r.HasOutage ? "–" : (r.RecoveryMs is { } ms ? string.Format(Inv, "{0:F1} s", ms / 1000.0) : "not within 30 min")
                    + (r.PeerRecoveryMs is { } pm ? string.Format(Inv, " (per peer {0:F1} s)", pm / 1000.0) : " (per peer: not within 30 min)"),
                r.MemoryPerUser is { } m ? string.Format(Inv, "{0:N0} B", m) : "–"));
        }

        return sb.ToString();
    }

    public static string Markdown(IReadOnlyList<Result> results, WorkloadOptions o, string table, TimeSpan wall, string commit, string[] args)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Federation traffic, simulated");
        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"Seed {o.Seed}; {o.Servers} servers; {o.Users} users (Zipf {o.Skew}); {o.Duration.TotalHours:F1} simulated hours; big rooms of {string.Join(", ", o.BigRooms.Select(b => b.ToString("P0", Inv)))} of all users; transaction latency {o.Latency.TotalMilliseconds} ms; server {o.OutageServer} unreachable from minute {o.OutageStart.TotalMinutes} for {o.OutageLength.TotalMinutes} min; engine commit `{commit}`; wall time {wall.TotalSeconds:F0} s."));
        sb.AppendLine();
        sb.AppendLine("Regenerate with `dotnet run -c Release --project benchmarks/Presence.Simulator -- " + string.Join(' ', args) + "` (see benchmarks/Presence.Simulator/README.md for what each column means and how each strategy is modelled).");
        sb.AppendLine();
        sb.Append(table);
        sb.AppendLine();
        foreach (var suffix in new[] { "shared", "excluded" })
        {
            if (File.Exists(Path.Combine("docs", "simulation", $"transactions-per-minute-{suffix}.svg")) || results.Any(r => r.BigRoomsExcluded == (suffix == "excluded")))
            {
                sb.AppendLine(Inv, $"![Presence-caused transactions per minute, big rooms {suffix}](transactions-per-minute-{suffix}.svg)");
                sb.AppendLine();
                sb.AppendLine(Inv, $"![Staleness at the receivers, big rooms {suffix}](staleness-{suffix}.svg)");
                sb.AppendLine();
            }
        }

        return sb.ToString();
    }

    public static void Charts(IReadOnlyList<Result> results, string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (bool excluded in new[] { false, true })
        {
            var set = results.Where(r => r.BigRoomsExcluded == excluded).ToList();
            if (set.Count == 0)
            {
                continue;
            }

            string suffix = excluded ? "excluded" : "shared";
            var plot = new Plot();
            foreach (var r in set)
            {
                double[] xs = Enumerable.Range(0, r.PerMinute.Length).Select(i => (double)i).ToArray();
                double[] ys = r.PerMinute.Select(v => Math.Log10(Math.Max(1, v))).ToArray();
                var line = plot.Add.Scatter(xs, ys);
                line.LegendText = r.Strategy;
                line.MarkerSize = 0;
                line.LineWidth = 1.5f;
            }

            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = y => Math.Pow(10, y).ToString("N0", Inv),
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
            };
            plot.Axes.Left.TickGenerator = ticks;
            plot.Title($"Presence-caused transactions per minute (big rooms {suffix})");
            plot.XLabel("simulated minute");
            plot.YLabel("transactions per minute (log scale)");
            plot.ShowLegend(Alignment.UpperRight);
            plot.SaveSvg(Path.Combine(directory, $"transactions-per-minute-{suffix}.svg"), 1000, 450);

            var cdf = new Plot();
            foreach (var r in set)
            {
                AddCdf(cdf, r.PromptSamples, $"{r.Strategy}, prompt", LinePattern.Solid);
                AddCdf(cdf, r.LazySamples, $"{r.Strategy}, lazy", LinePattern.Dashed);
            }

            cdf.Title($"Staleness at the receivers, outside the outage (big rooms {suffix})");
            cdf.XLabel("seconds from the change to the receiver holding it (or newer)");
            cdf.YLabel("fraction of changes");
            cdf.Axes.SetLimitsX(0, 75);
            cdf.Axes.SetLimitsY(0, 1.02);
            cdf.ShowLegend(Alignment.LowerRight);
            cdf.SaveSvg(Path.Combine(directory, $"staleness-{suffix}.svg"), 1000, 450);
        }
    }

    private static void AddCdf(Plot plot, double[] sorted, string label, LinePattern pattern)
    {
        if (sorted.Length == 0)
        {
            return;
        }

        // At most 400 points: the value at each quantile step.
        int points = Math.Min(400, sorted.Length);
        var xs = new double[points + 1];
        var ys = new double[points + 1];
        for (int i = 0; i <= points; i++)
        {
            double q = (double)i / points;
            xs[i] = sorted[Math.Min(sorted.Length - 1, (int)(q * (sorted.Length - 1)))];
            ys[i] = q;
        }

        var line = plot.Add.Scatter(xs, ys);
        line.LegendText = label;
        line.MarkerSize = 0;
        line.LinePattern = pattern;
        line.LineWidth = 1.5f;
    }
}
