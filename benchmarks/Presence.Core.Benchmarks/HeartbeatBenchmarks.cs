using BenchmarkDotNet.Attributes;

namespace Presence.Benchmarks;

/// <summary>
/// The overwhelmingly common input: a sync heartbeat from a connected device that changes nothing, across
/// one million tracked users. The baseline is the least any engine must do: find the user in a dictionary.
/// </summary>
[MemoryDiagnoser]
public class HeartbeatBenchmarks
{
    private const int Batch = 1_000;
    private TrackedUsers _users = null!;
    private Dictionary<UserId, int> _dictionary = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _users = new TrackedUsers(new FrozenTimeProvider());
        _users.ConnectAll();
        _dictionary = new Dictionary<UserId, int>(TrackedUsers.Count);
        for (int i = 0; i < TrackedUsers.Count; i++)
        {
            _dictionary[_users.Users[i]] = i;
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _users.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int DictionaryLookup()
    {
        int sum = 0;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            sum += _dictionary[_users.Users[i]];
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Heartbeat_NoChange()
    {
        var engine = _users.Engine;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            engine.Heartbeat(_users.Users[i], _users.Devices[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Heartbeat_SetPresenceUnchanged()
    {
        var engine = _users.Engine;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            engine.Heartbeat(_users.Users[i], _users.Devices[i], PresenceState.Online);
        }
    }

    private int NextStart()
    {
        int start = _next;
        _next = start + Batch >= TrackedUsers.Count ? 0 : start + Batch;
        return start;
    }
}
