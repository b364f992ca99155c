using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Stream;

/// <summary>A device is connected while a sync is open, however long; the sync timeout runs from when the last one closed.</summary>
[CancelAfter(10_000)]
public sealed class SyncScopeTests
{
    private static readonly UserId Alice = User("alice");
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [TestCase(30)]
    [TestCase(60)]
    public async Task OpenSync_HeldLongerThanTheSyncTimeout_StaysOnlineWithOnePublication(int seconds)
    {
        await using var h = await StartAsync();
        using (h.Engine.OpenSync(Alice, "D1"))
        {
            h.Advance(TimeSpan.FromSeconds(seconds) + Ms);
            var during = await h.ReadAsync(Alice);
            Assert.That(during.State, Is.EqualTo(PresenceState.Online), "a sync still open keeps the device (Synapse does)");
        }

        Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped), Is.Zero);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online));
    }

    [Test]
    public async Task LongPolls_TenMinutesWithoutActivity_UnavailableAtFiveMinutesNoFlapping()
    {
        await using var h = await StartAsync();
        var watcher = User("bob");
        await h.ShareRoomAsync("!r:example.org", Alice, watcher);
        var states = new List<PresenceState>();
        var elapsed = TimeSpan.Zero;
        long before = h.Publications;

        // Element's loop: a 30 s long-poll, then the next one at once.
        while (elapsed < TimeSpan.FromMinutes(10))
        {
            using (h.Engine.OpenSync(Alice, "D1", PresenceState.Online))
            {
                for (int i = 0; i < 30; i++)
                {
                    h.Advance(TimeSpan.FromSeconds(1));
                    elapsed += TimeSpan.FromSeconds(1);
                    var seen = (await h.Engine.GetPresenceAsync(watcher, Alice)).Presence!;
                    if (states.Count == 0 || states[^1] != seen.State)
                    {
                        states.Add(seen.State);
                    }

                    if (elapsed == TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1))
                    {
                        Assert.That(seen.State, Is.EqualTo(PresenceState.Online), "just before the idle timeout");
                    }
                }
            }
        }

        var last = (await h.Engine.GetPresenceAsync(watcher, Alice)).Presence!;
        Assert.Multiple(() =>
        {
            Assert.That(states, Is.EqualTo(new[] { PresenceState.Online, PresenceState.Unavailable }), "online, then unavailable at 5 min, never offline");
            Assert.That(last.CurrentlyActive, Is.False);

            // The first connection, currently_active ending at 60 s, unavailable at 5 min: nothing every 30 s.
            Assert.That(h.Publications - before, Is.EqualTo(3));
            Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped), Is.Zero);
        });
    }

    [Test]
    public async Task ClosedSync_SilentForTheSyncTimeout_DroppedJustAfterNotJustBefore()
    {
        await using var h = await StartAsync();
        h.Advance(TimeSpan.FromSeconds(5));
        var scope = h.Engine.OpenSync(Alice, "D1");
        h.Advance(TimeSpan.FromSeconds(45)); // open longer than the timeout
        scope.Dispose();

        h.Advance(TimeSpan.FromSeconds(30) - Ms);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online), "30 s - 1 ms after the sync ended");

        h.Advance(Ms + Ms);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Offline), "30 s + 1 ms after the sync ended");
        Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped), Is.EqualTo(1));
    }

    [Test]
    public async Task OverlappingSyncs_ConnectedUntilTheLastCloses()
    {
        await using var h = await StartAsync();
        var first = h.Engine.OpenSync(Alice, "D1");
        var second = h.Engine.OpenSync(Alice, "D1");
        h.Advance(TimeSpan.FromSeconds(10));
        first.Dispose();
        first.Dispose(); // twice is harmless: it must not close the other sync
        h.Advance(TimeSpan.FromMinutes(2));
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online), "the second sync is still open");

        second.Dispose();
        h.Advance(TimeSpan.FromSeconds(30));
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Offline));
    }

    [Test]
    public async Task Busy_SyncsWithSetPresenceOnline_StayBusy()
    {
        await using var h = await StartAsync(o => o.EnableBusy = true);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Busy, "in a meeting");
        for (int i = 0; i < 10; i++)
        {
            using (h.Engine.OpenSync(Alice, "D1", PresenceState.Online))
            {
                h.Advance(TimeSpan.FromSeconds(30));
            }

            using (h.Engine.OpenSync(Alice, "D2", PresenceState.Online))
            {
                h.Advance(TimeSpan.FromSeconds(1));
            }
        }

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Busy));
        Assert.That(p.StatusMessage, Is.EqualTo("in a meeting"));
    }

    [Test]
    public async Task Heartbeat_StillTheOneCallForm_ConnectedForTheSyncTimeoutAfterIt()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.Advance(TimeSpan.FromSeconds(30) - Ms);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online));
        h.Advance(Ms);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Offline));
    }

    [Test]
    public async Task Scope_DisposedAfterTheEngine_DoesNothing()
    {
        var h = await StartAsync();
        var scope = h.Engine.OpenSync(Alice, "D1");
        await h.DisposeAsync();

        Assert.DoesNotThrow(scope.Dispose);
    }

    [Test]
    public async Task OpenSync_Refusals_CarryMatrixErrorCodes()
    {
        await using var h = await StartAsync();
        var remote = UserId.Parse("@eve:elsewhere.example");

        var foreign = Assert.Throws<PresenceException>(() => h.Engine.OpenSync(remote, "D1"));
        var device = Assert.Throws<PresenceException>(() => h.Engine.OpenSync(Alice, new string('x', 300)));
        var busy = Assert.Throws<PresenceException>(() => h.Engine.OpenSync(Alice, "D1", PresenceState.Busy));
        Assert.Multiple(() =>
        {
            Assert.That(foreign!.ErrorCode, Is.EqualTo(PresenceErrorCodes.Forbidden));
            Assert.That(device!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));
            Assert.That(busy!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam), "busy is disabled by default");
        });
    }
}
