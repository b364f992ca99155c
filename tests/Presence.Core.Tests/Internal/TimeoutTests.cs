using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class TimeoutTests
{
    private static readonly UserId Alice = User("alice");
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Test]
    public async Task Heartbeat_NewDevice_IsOnlineAndCurrentlyActive()
    {
        await using var h = await StartAsync();
        var start = h.Now;

        h.Engine.Heartbeat(Alice, "PHONE");

        var p = await h.ReadAsync(Alice);
        Assert.Multiple(() =>
        {
            Assert.That(p.State, Is.EqualTo(PresenceState.Online));
            Assert.That(p.CurrentlyActive, Is.True);
            Assert.That(p.LastActive, Is.EqualTo(start));
            Assert.That(h.Publications, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task IdleTimeout_JustBeforeAtAndAfter_TurnsUnavailableExactlyAtFiveMinutes()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.SyncFor(TimeSpan.FromMinutes(5) - Ms, Alice, "D1");
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online), "just before");
        long before = h.Publications;

        h.Advance(Ms);

        Assert.That(h.Publications, Is.EqualTo(before + 1), "the timer publishes at the edge, not the next read");
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Unavailable), "exactly at");
        h.SyncFor(TimeSpan.FromSeconds(1), Alice, "D1");
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Unavailable), "just after");
    }

    [Test]
    public async Task SyncTimeout_NoHeartbeat_DropsDeviceExactlyAtThirtySeconds()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");

        h.Advance(TimeSpan.FromSeconds(30) - Ms);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online), "just before");

        h.Advance(Ms);
        var atEdge = await h.ReadAsync(Alice);
        h.Advance(Ms);
        var after = await h.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(atEdge.State, Is.EqualTo(PresenceState.Offline), "exactly at");
            Assert.That(atEdge.CurrentlyActive, Is.False);
            Assert.That(atEdge.DeviceKinds, Is.EqualTo(DeviceKinds.None));
            Assert.That(after.State, Is.EqualTo(PresenceState.Offline), "just after");
            Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped, "sync_timeout"), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task SyncTimeout_HeartbeatsKeepDeviceConnected()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");

        h.SyncFor(TimeSpan.FromMinutes(3), Alice, "D1");

        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online));
        Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped), Is.Zero);
    }

    [Test]
    public async Task SyncTimeout_ActivityWithoutSyncCountsAsSeen()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.Advance(TimeSpan.FromSeconds(20));
        h.Engine.ReportActivity(Alice, "D1");

        h.Advance(TimeSpan.FromSeconds(30) - Ms);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online));
        h.Advance(Ms);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Offline));
    }

    [Test]
    public async Task HeartbeatAfterTimeout_ReconnectsAsNewDeviceAndBumpsLastActive()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.Advance(TimeSpan.FromMinutes(2));

        h.Engine.Heartbeat(Alice, "D1");

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Online));
        Assert.That(p.LastActive, Is.EqualTo(h.Now));
    }

    [Test]
    public async Task BusyTimeout_BusyDeviceWithoutSync_StaysBusyUntilExactlyOneHour()
    {
        await using var h = await StartAsync(o => o.EnableBusy = true);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Busy, "focus");

        h.Advance(TimeSpan.FromMinutes(30));
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Busy), "the sync timeout does not apply");
        h.Advance(TimeSpan.FromMinutes(30) - Ms);
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Busy), "just before");
        h.Advance(Ms);

        var p = await h.ReadAsync(Alice);
        Assert.Multiple(() =>
        {
            Assert.That(p.State, Is.EqualTo(PresenceState.Offline), "exactly at");
            Assert.That(p.StatusMessage, Is.EqualTo("focus"), "timeouts keep the status message");
            Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped, "busy_timeout"), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Busy_ActivityAndIdleTimeout_StayBusy()
    {
        await using var h = await StartAsync(o => o.EnableBusy = true);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Busy, null);
        h.SyncFor(TimeSpan.FromMinutes(10), Alice, "D1");
        h.Engine.ReportActivity(Alice, "D1");

        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Busy));
    }

    [Test]
    public async Task CurrentlyActive_FlipsExactlyAtGranularityAndIsPublished()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.SyncFor(TimeSpan.FromSeconds(60) - Ms, Alice, "D1");
        Assert.That((await h.ReadAsync(Alice)).CurrentlyActive, Is.True, "just before");
        long before = h.Publications;

        h.Advance(Ms);

        var p = await h.ReadAsync(Alice);
        Assert.Multiple(() =>
        {
            Assert.That(p.State, Is.EqualTo(PresenceState.Online));
            Assert.That(p.CurrentlyActive, Is.False, "exactly at");
            Assert.That(h.Publications, Is.EqualTo(before + 1));
        });
    }

    [Test]
    public async Task LastActiveAgo_IsComputedWhenRead()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        var first = await h.ReadAsync(Alice);

        h.SyncFor(TimeSpan.FromSeconds(90), Alice, "D1");
        var second = await h.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(first.GetLastActiveAgo(h.Now), Is.EqualTo(TimeSpan.FromSeconds(90)), "an old snapshot ages with the clock");
            Assert.That(second.GetLastActiveAgo(h.Now), Is.EqualTo(TimeSpan.FromSeconds(90)));
            Assert.That(PresenceSnapshot.Unknown(Alice).GetLastActiveAgo(h.Now), Is.Null);
        });
    }

    [Test]
    public async Task Idle_ReportedOnce_InfersStartAndStaysCurrent()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.SyncFor(TimeSpan.FromSeconds(60), Alice, "D1");

        h.Engine.ReportIdle(Alice, "D1", TimeSpan.FromMinutes(2));
        var reported = await h.ReadAsync(Alice);
        h.SyncFor(TimeSpan.FromMinutes(3), Alice, "D1");
        var later = await h.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(reported.State, Is.EqualTo(PresenceState.Unavailable));
            Assert.That(reported.GetLastActiveAgo(h.Now - TimeSpan.FromMinutes(3)), Is.EqualTo(TimeSpan.FromMinutes(2)));
            Assert.That(later.State, Is.EqualTo(PresenceState.Unavailable), "heartbeats do not end idleness");
            Assert.That(later.GetLastActiveAgo(h.Now), Is.EqualTo(TimeSpan.FromMinutes(5)));
        });
    }

    [Test]
    public async Task CancelIdle_EndsIdlenessAsActivity()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.Engine.ReportIdle(Alice, "D1", TimeSpan.FromMinutes(10));
        h.SyncFor(TimeSpan.FromMinutes(1), Alice, "D1");

        h.Engine.CancelIdle(Alice, "D1");

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Online));
        Assert.That(p.CurrentlyActive, Is.True);
        Assert.That(p.GetLastActiveAgo(h.Now), Is.EqualTo(TimeSpan.Zero));
    }

    [Test]
    public async Task Idle_OtherDeviceActive_UserStaysOnline()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "LAPTOP");
        h.Engine.Heartbeat(Alice, "PHONE");

        h.Engine.ReportIdle(Alice, "LAPTOP", TimeSpan.FromMinutes(10));

        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online));
    }

    [Test]
    public async Task Idle_RepeatedOrUnderstatedReports_NeverMoveLastActiveForward()
    {
        await using var h = await StartAsync();
        var start = h.Now;
        h.Engine.Heartbeat(Alice, "D1");
        h.SyncFor(TimeSpan.FromMinutes(1), Alice, "D1");

        h.Engine.ReportIdle(Alice, "D1", TimeSpan.FromSeconds(5));
        h.SyncFor(TimeSpan.FromSeconds(40), Alice, "D1");
        h.Engine.ReportIdle(Alice, "D1", TimeSpan.Zero);

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Unavailable));
        Assert.That(p.LastActive, Is.EqualTo(start), "the engine saw no activity after the first heartbeat");
    }

    [Test]
    public async Task VeryLongTimeouts_AreHonouredWithinTimerLimits()
    {
        await using var h = await StartAsync(o =>
        {
            o.EnableBusy = true;
            o.BusyTimeout = TimeSpan.FromDays(60);
        });

        h.Engine.SetPresence(Alice, "D1", PresenceState.Busy, null);
        h.Advance(TimeSpan.FromDays(60) - Ms);
        var before = await h.ReadAsync(Alice);
        h.Advance(Ms);

        Assert.That(before.State, Is.EqualTo(PresenceState.Busy));
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Offline));
    }
}
