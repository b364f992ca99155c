using BenchmarkDotNet.Attributes;

namespace Presence.Benchmarks;

/// <summary>
/// Inputs that do change something, across one million tracked users: an activity bump (last-active moves,
/// nothing is published while the user is currently active) and an explicit state change (published and
/// queued for the store). The baseline is a no-change heartbeat in the same run.
/// </summary>
[MemoryDiagnoser]
public class ChangeBenchmarks : MillionUsersBenchmark
{
    private bool _unavailable;

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public void Heartbeat_NoChange()
    {
        HeartbeatBatch();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Activity_Bump()
    {
        var engine = Users.Engine;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            engine.ReportActivity(Users.Users[i], Users.Devices[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void StateChange_Published()
    {
        var engine = Users.Engine;
        int start = NextStart();
        if (start == 0)
        {
            _unavailable = !_unavailable;
        }

        // Each pass over the users flips them all, so every call is a real, published change.
        var state = _unavailable ? PresenceState.Unavailable : PresenceState.Online;
        for (int i = start; i < start + Batch; i++)
        {
            engine.Heartbeat(Users.Users[i], Users.Devices[i], state);
        }
    }
}
