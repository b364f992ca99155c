namespace Presence.Simulator;

/// <summary>What one strategy did on one workload variant.</summary>
internal sealed class Result
{
    public Result(string strategy, bool bigRoomsExcluded, Run run, long? memoryBytes)
    {
        Strategy = strategy;
        BigRoomsExcluded = bigRoomsExcluded;
        var world = run.World;
        var sent = run.Net.Sent.Where(t => t.T < world.DurationMs).ToList(); // what engines drain at shutdown is not counted
        PresenceTransactions = sent.Count(t => t.PresenceCaused);
        ChatTransactions = sent.Count(t => !t.PresenceCaused);
        Riding = sent.Count(t => !t.PresenceCaused && t.PresenceEntries > 0);
        Entries = sent.Sum(t => (long)t.PresenceEntries);
        Bytes = sent.Sum(t => (long)t.PresenceBytes) + ((long)Sizes.Envelope * PresenceTransactions);
        int minutes = (int)Math.Ceiling(world.DurationMs / 60_000.0);
        PerMinute = new double[minutes];
        foreach (var t in sent)
        {
            if (t.PresenceCaused)
            {
                PerMinute[Math.Min(minutes - 1, (int)(t.T / 60_000))]++;
            }
        }

        // Peak and mean over one-minute buckets outside the outage (and the minute after it), and after the setup minute:
        // every presence-list request and answer of the workload is made in its first 2 seconds (an artifact of the setup).
        var buckets = Enumerable.Range(1, Math.Max(0, minutes - 1)).Where(m => !world.Options.HasOutage || (m * 60_000L) + 60_000 <= world.OutageStartMs || m * 60_000L >= world.OutageEndMs + 60_000).Select(m => PerMinute[m]).ToArray();
        MeanPerSecond = buckets.Length == 0 ? 0 : buckets.Average() / 60;
        PeakPerSecond = buckets.Length == 0 ? 0 : buckets.Max() / 60;
        if (Run.Debug)
        {
            Console.WriteLine($"{run.Strategy.Name} busiest minutes: {string.Join(", ", PerMinute.Select((n, m) => (n, m)).OrderByDescending(x => x.n).Take(12).Select(x => $"min {x.m}: {x.n}"))}");
        }
        PoissonPeakRatio = PoissonPeak(buckets.Length == 0 ? 0 : buckets.Average(), buckets.Length, world.Options.Seed);
        var normal = run.Staleness.Where(s => !s.Outage).ToArray();
        Prompt = Percentiles(normal.Where(s => s.Prompt).Select(s => s.Staleness));
        Lazy = Percentiles(normal.Where(s => !s.Prompt).Select(s => s.Staleness));
        PromptSamples = normal.Where(s => s.Prompt).Select(s => s.Staleness / 1000.0).Order().ToArray();
        LazySamples = normal.Where(s => !s.Prompt).Select(s => s.Staleness / 1000.0).Order().ToArray();
        Undelivered = run.Undelivered;
        LostSamples = run.LostSamples;
        ViewSamples = run.ViewSamples;
        LostViews = run.LostViews.Count;
        RecoveryMs = run.RecoveryMs;
        PeerRecoveryMs = run.PeerRecoveryMs;
        HasOutage = world.Options.HasOutage;
        MemoryPerUser = memoryBytes is { } m ? (double)m / world.Users.Length : null;
    }

    public string Strategy { get; }

    public bool BigRoomsExcluded { get; }

    public long PresenceTransactions { get; }

    public long ChatTransactions { get; }

    public long Riding { get; }

    public long Entries { get; }

    public long Bytes { get; }

    public double[] PerMinute { get; }

    public double MeanPerSecond { get; }

    public double PeakPerSecond { get; }

    public double PoissonPeakRatio { get; }

    public (double P50, double P99, double Max, int Count) Prompt { get; }

    public (double P50, double P99, double Max, int Count) Lazy { get; }

    public double[] PromptSamples { get; }

    public double[] LazySamples { get; }

    public long Undelivered { get; }

    public long LostSamples { get; }

    public long ViewSamples { get; }

    public int LostViews { get; }

    public long? RecoveryMs { get; }

    /// <summary>Gets the worst peer's recovery, from the first transaction the recovered server sent that peer.</summary>
    public long? PeerRecoveryMs { get; }

    public bool HasOutage { get; }

    public double? MemoryPerUser { get; }

    private static (double, double, double, int) Percentiles(IEnumerable<long> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return (0, 0, 0, 0);
        }

        double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)] / 1000.0;
        return (At(0.5), At(0.99), sorted[^1] / 1000.0, sorted.Length);
    }

    /// <summary>The peak/mean ratio a Poisson stream with the same mean would show over as many one-minute buckets.</summary>
    private static double PoissonPeak(double mean, int buckets, int seed)
    {
        if (mean <= 0 || buckets == 0)
        {
            return 0;
        }

        var rng = new Random(seed);
        int max = 0;
        for (int b = 0; b < buckets; b++)
        {
            // Knuth for small means, a normal approximation for large ones.
            int k;
            if (mean < 50)
            {
                double l = Math.Exp(-mean), p = 1;
                k = -1;
                do
                {
                    k++;
                    p *= rng.NextDouble();
                }
                while (p > l);
            }
            else
            {
                double z = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                k = (int)Math.Round(mean + (z * Math.Sqrt(mean)));
            }

            max = Math.Max(max, k);
        }

        return max / mean;
    }
}
