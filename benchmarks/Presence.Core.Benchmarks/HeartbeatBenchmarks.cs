using BenchmarkDotNet.Attributes;

namespace Presence.Benchmarks;

/// <summary>
/// The overwhelmingly common input: a sync heartbeat from a connected device that changes nothing, across
/// one million tracked users. The baseline is the least any engine must do: find the user in a dictionary.
/// Users are visited in the order they were created (slot order), which keeps the engine's and the dictionary's data
/// in cache and hides the misses a real server pays; <see cref="RandomOrderHeartbeatBenchmarks"/> visits them at random.
/// </summary>
[MemoryDiagnoser]
public class HeartbeatBenchmarks : MillionUsersBenchmark
{
    private Dictionary<UserId, int> _dictionary = null!;

    public override void Setup()
    {
        base.Setup();
        _dictionary = new Dictionary<UserId, int>(TrackedUsers.Count);
        for (int i = 0; i < TrackedUsers.Count; i++)
        {
            _dictionary[Users.Users[i]] = i;
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int DictionaryLookup()
    {
        int sum = 0;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            sum += _dictionary[Users.Users[i]];
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Heartbeat_NoChange()
    {
        HeartbeatBatch();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Heartbeat_SetPresenceUnchanged()
    {
        var engine = Users.Engine;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            engine.Heartbeat(Users.Users[i], Users.Devices[i], PresenceState.Online);
        }
    }
}
