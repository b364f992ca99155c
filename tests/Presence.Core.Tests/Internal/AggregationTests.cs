using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class AggregationTests
{
    private static readonly UserId Alice = User("alice");

    [TestCase(PresenceState.Online, PresenceState.Unavailable, PresenceState.Online)]
    [TestCase(PresenceState.Unavailable, PresenceState.Online, PresenceState.Online)]
    [TestCase(PresenceState.Online, PresenceState.Offline, PresenceState.Online)]
    [TestCase(PresenceState.Unavailable, PresenceState.Offline, PresenceState.Unavailable)]
    [TestCase(PresenceState.Offline, PresenceState.Offline, PresenceState.Offline)]
    [TestCase(PresenceState.Busy, PresenceState.Online, PresenceState.Busy)]
    [TestCase(PresenceState.Unavailable, PresenceState.Busy, PresenceState.Busy)]
    [TestCase(PresenceState.Offline, PresenceState.Busy, PresenceState.Busy)]
    public async Task TwoDevices_Precedence_BusyOverOnlineOverUnavailableOverOffline(PresenceState first, PresenceState second, PresenceState expected)
    {
        await using var h = await StartAsync(o => o.EnableBusy = true);

        h.Engine.SetPresence(Alice, "D1", first, null);
        h.Engine.SetPresence(Alice, "D2", second, null);

        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(expected));
    }

    [Test]
    public async Task NoDevices_IsOffline()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");

        h.Engine.Disconnect(Alice, "D1");

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Offline));
        Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped, "disconnect"), Is.EqualTo(1));
    }

    [Test]
    public async Task LastActive_IsTheMostRecentActivityOfAnyDevice_AndSurvivesDisconnects()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.SyncFor(TimeSpan.FromSeconds(40), Alice, "D1");
        h.Engine.Heartbeat(Alice, "D2");
        var d2Active = h.Now;
        h.SyncFor(TimeSpan.FromSeconds(20), Alice, "D1", "D2");

        h.Engine.Disconnect(Alice, "D1");
        var oneLeft = await h.ReadAsync(Alice);
        h.Engine.Disconnect(Alice, "D2");
        var none = await h.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(oneLeft.LastActive, Is.EqualTo(d2Active));
            Assert.That(none.State, Is.EqualTo(PresenceState.Offline));
            Assert.That(none.LastActive, Is.EqualTo(d2Active));
        });
    }

    [Test]
    public async Task ExplicitUnavailableOrOffline_KeepsOldLastActive_OnlineBumpsIt()
    {
        await using var h = await StartAsync();
        var start = h.Now;
        h.Engine.Heartbeat(Alice, "D1");
        h.SyncFor(TimeSpan.FromSeconds(40), Alice, "D1");

        var unavailable = h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, null);
        var offline = h.Engine.SetPresence(Alice, "D1", PresenceState.Offline, null);
        var online = h.Engine.SetPresence(Alice, "D1", PresenceState.Online, null);

        Assert.Multiple(() =>
        {
            Assert.That(unavailable.State, Is.EqualTo(PresenceState.Unavailable));
            Assert.That(unavailable.LastActive, Is.EqualTo(start));
            Assert.That(offline.State, Is.EqualTo(PresenceState.Offline));
            Assert.That(offline.LastActive, Is.EqualTo(start));
            Assert.That(online.LastActive, Is.EqualTo(h.Now));
            Assert.That(online.CurrentlyActive, Is.True);
        });
    }

    [Test]
    public async Task Activity_UnavailableDevice_ComesBackOnline()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, null);

        h.Engine.ReportActivity(Alice, "D1");

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Online));
        Assert.That(p.LastActive, Is.EqualTo(h.Now));
    }

    [Test]
    public async Task Activity_OfflineDevice_StaysOfflineButLastActiveMoves()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Offline, null);
        h.SyncFor(TimeSpan.FromMinutes(2), Alice, "D1");

        h.Engine.ReportActivity(Alice, "D1");

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Offline));
        Assert.That(p.LastActive, Is.EqualTo(h.Now));
    }

    [Test]
    public async Task Activity_AfterIdleTimeout_ComesBackOnline()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.SyncFor(TimeSpan.FromMinutes(6), Alice, "D1");
        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Unavailable));

        h.Engine.ReportActivity(Alice, "D1");

        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Online));
    }

    [Test]
    public async Task SetPresenceOnSync_ChangesTheDeviceStateWithoutTouchingStatus()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "at work");

        h.Engine.Heartbeat(Alice, "D1", PresenceState.Unavailable);

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Unavailable));
        Assert.That(p.StatusMessage, Is.EqualTo("at work"));
    }

    [Test]
    public async Task NewDevice_StartsInTheUsersLastRequestedState()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Offline, null);
        h.Engine.Disconnect(Alice, "D1");

        h.Engine.Heartbeat(Alice, "D2");

        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Offline), "an explicit offline (hidden) stays until changed");
    }

    [Test]
    public async Task DeviceKinds_AreTheKindsOfConnectedDevices_AndChangesArePublished()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "LAPTOP");
        h.Engine.Heartbeat(Alice, "PHONE");
        long before = h.Publications;

        h.Engine.SetDeviceKind(Alice, "PHONE", DeviceKinds.Mobile);
        var both = await h.ReadAsync(Alice);
        long afterKind = h.Publications;
        h.Engine.Disconnect(Alice, "LAPTOP");
        var phoneOnly = await h.ReadAsync(Alice);

        Assert.Multiple(() =>
        {
            Assert.That(both.DeviceKinds, Is.EqualTo(DeviceKinds.Standard | DeviceKinds.Mobile));
            Assert.That(afterKind, Is.EqualTo(before + 1));
            Assert.That(phoneOnly.DeviceKinds, Is.EqualTo(DeviceKinds.Mobile));
        });
    }

    [Test]
    public async Task DeviceCap_DropsTheLeastRecentlySeenDevice()
    {
        await using var h = await StartAsync(o => o.MaxDevicesPerUser = 2);
        h.Engine.Heartbeat(Alice, "OLD");
        h.Advance(TimeSpan.FromSeconds(5));
        h.Engine.Heartbeat(Alice, "MID");
        h.Engine.SetDeviceKind(Alice, "MID", DeviceKinds.Web);
        h.Advance(TimeSpan.FromSeconds(5));

        h.Engine.Heartbeat(Alice, "NEW");
        h.Engine.SetDeviceKind(Alice, "NEW", DeviceKinds.Mobile);

        Assert.That((await h.ReadAsync(Alice)).DeviceKinds, Is.EqualTo(DeviceKinds.Web | DeviceKinds.Mobile));
        Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped, "device_cap"), Is.EqualTo(1));
        Assert.That(h.Metrics.Observe(PresenceMetrics.ConnectedDevices), Is.EqualTo(2));
    }

    [TestCase(PresenceState.Unavailable)]
    [TestCase(PresenceState.Offline)]
    public async Task ExplicitSet_FromANewDevice_KeepsTheOldLastActive(PresenceState state)
    {
        await using var h = await StartAsync();
        var start = h.Now;
        h.Engine.Heartbeat(Alice, "D1");
        h.Engine.Disconnect(Alice, "D1");
        h.Advance(TimeSpan.FromHours(2));

        var p = h.Engine.SetPresence(Alice, "D9", state, null);

        Assert.That(p.State, Is.EqualTo(state));
        Assert.That(p.LastActive, Is.EqualTo(start), "setting unavailable or offline is not activity, even from a device not yet connected");
    }

    [Test]
    public async Task Disconnect_OfADeviceThatAlreadyTimedOut_PublishesTheDropAtOnce()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.Advance(TimeSpan.FromSeconds(30));

        h.Engine.Disconnect(Alice, "D1");

        Assert.That((await h.ReadAsync(Alice)).State, Is.EqualTo(PresenceState.Offline));
    }
}
