using BenchmarkDotNet.Attributes;

namespace Presence.Benchmarks;

/// <summary>
/// Inputs that do change something, across one million tracked users: an activity bump (last-active moves,
/// nothing is published while the user is currently active) and an explicit state change (published and
/// queued for the store). The baseline is a no-change heartbeat in the same run.
/// </summary>
[MemoryDiagnoser]
public class ChangeBenchmarks
{
    private const int Batch = 1_000;
    private TrackedUsers _users = null!;
    private int _next;
    private bool _unavailable;

    [GlobalSetup]
    public void Setup()
    {
        _users = new TrackedUsers(new FrozenTimeProvider());
        _users.ConnectAll();
    }

    [GlobalCleanup]
    public void Cleanup() => _users.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
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
    public void Activity_Bump()
    {
        var engine = _users.Engine;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            engine.ReportActivity(_users.Users[i], _users.Devices[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void StateChange_Published()
    {
        var engine = _users.Engine;
        int start = NextStart();
        if (start == 0)
        {
            _unavailable = !_unavailable;
        }

        // Each pass over the users flips them all, so every call is a real, published change.
        var state = _unavailable ? PresenceState.Unavailable : PresenceState.Online;
        for (int i = start; i < start + Batch; i++)
        {
            engine.Heartbeat(_users.Users[i], _users.Devices[i], state);
        }
    }

    private int NextStart()
    {
        int start = _next;
        _next = start + Batch >= TrackedUsers.Count ? 0 : start + Batch;
        return start;
    }
}
