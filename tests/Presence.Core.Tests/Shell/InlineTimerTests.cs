using Presence.Internal;

namespace Presence.Core.Tests.Shell;

/// <summary>
/// A TimeProvider may run due timer callbacks inside the call that reads the time or moves it (FakeTimeProvider does), so
/// the engine's tick can be invoked on a thread that holds a shard gate. It must not then wait for the interest lock.
/// </summary>
[TestFixture]
[CancelAfter(30_000)]
public sealed class InlineTimerTests
{
    [Test]
    public async Task TickFiredInlineUnderAShardGate_DoesNotDeadlockWithTheInterestLock()
    {
        await using var h = await EngineHarness.StartAsync();
        var alice = EngineHarness.User("alice");
        h.Engine.Heartbeat(alice, "D1"); // a deadline: the sync timeout
        var before = await h.Engine.GetChangesSinceAsync(alice, PresenceStreamToken.None);
        var engine = (DefaultPresenceEngine)h.Engine;
        var gate = engine.GateOfForTest(alice);
        using var interestHeld = new ManualResetEventSlim();

        var gateHolder = Task.Factory.StartNew(() =>
        {
            lock (gate)
            {
                // Another thread takes the interest lock and then waits for this gate (the delivery path's order).
                var other = Task.Factory.StartNew(() => engine.RunLocked(() =>
                {
                    interestHeld.Set();
                    lock (gate)
                    {
                    }
                }), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                interestHeld.Wait();

                // The tick fires here, inline, under the gate: it must hand its work on instead of waiting for the interest lock.
                h.Advance(PresenceOptions.DefaultSyncTimeout + TimeSpan.FromSeconds(1));
                return other;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var other = await gateHolder.WaitAsync(TimeSpan.FromSeconds(10));
        await other.WaitAsync(TimeSpan.FromSeconds(10));

        // The deferred tick still ran (on the thread pool): the device was dropped and alice's offline published.
        var changes = await h.Engine.WaitForChangesAsync(alice, before.NextToken, TimeSpan.FromHours(1)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(changes.Changes.Single(c => c.User == alice).State, Is.EqualTo(PresenceState.Offline));
    }
}
