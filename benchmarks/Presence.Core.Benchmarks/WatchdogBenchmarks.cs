using BenchmarkDotNet.Attributes;
using Presence.Internal;

namespace Presence.Benchmarks;

/// <summary>
/// Watchdogs for 100,000 peers: a reset (any traffic from a peer) and a tick in which 1 % of the peers expire.
/// Baseline: a bare dictionary lookup of the peer, the least a reset must do.
/// </summary>
[MemoryDiagnoser]
public class WatchdogBenchmarks
{
    public const int Peers = 100_000;
    private const int Batch = 1_000;
    private const long Tick = 600 * TimeSpan.TicksPerMillisecond;
    private ServerName[] _peers = null!;
    private Dictionary<ServerName, int> _dictionary = null!;
    private WatchdogManager _resets = null!;
    private WatchdogManager _ticks = null!;
    private List<(ServerName, WatchdogKind)> _fired = null!;
    private long _now;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _peers = Names();
        _dictionary = [];
        _resets = new WatchdogManager(ServerName.Parse("origin.example"), TimeSpan.TicksPerMinute, TimeSpan.TicksPerHour, TimeSpan.TicksPerHour * 1000);
        _ticks = new WatchdogManager(ServerName.Parse("origin.example"), TimeSpan.TicksPerMinute, TimeSpan.TicksPerHour * 1000, TimeSpan.TicksPerHour * 1000);
        for (int i = 0; i < Peers; i++)
        {
            _dictionary[_peers[i]] = i;
            _resets.Track(_peers[i], 0);

            // Tracked across one short period, so each 600 ms tick sees 1 % of the peers expire.
            _ticks.Track(_peers[i], i * (TimeSpan.TicksPerMinute / Peers));
        }

        _fired = new List<(ServerName, WatchdogKind)>(Peers);
        _now = TimeSpan.TicksPerMinute;
    }

    internal static ServerName[] Names() => [.. Enumerable.Range(0, Peers).Select(i => ServerName.Parse($"server{i}.example"))];

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int DictionaryLookup()
    {
        int sum = 0;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            sum += _dictionary[_peers[i]];
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Reset()
    {
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            _resets.NoteTraffic(_peers[i], 1);
        }
    }

    /// <summary>One 600 ms tick: about 1,000 of the 100,000 peers come due, fire and are re-queued.</summary>
    [Benchmark]
    public int TickOnePercentExpiring()
    {
        _now += Tick;
        _fired.Clear();
        _ticks.Expire(_now, _fired);
        return _fired.Count;
    }

    private int NextStart()
    {
        int start = _next;
        _next = start + Batch >= Peers ? 0 : start + Batch;
        return start;
    }
}
