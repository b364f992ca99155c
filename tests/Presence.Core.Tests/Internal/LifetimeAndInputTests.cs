using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class LifetimeAndInputTests
{
    private static readonly UserId Alice = User("alice");

    [Test]
    public async Task Calls_BeforeStart_ThrowInvalidOperation()
    {
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, new InMemoryMembershipView(), timeProvider: new FakeTimeProvider(EngineHarness.Start));

        var error = Assert.Throws<PresenceException>(() => engine.Heartbeat(Alice, "D1"));
        Assert.That(error!.Message, Does.Contain("StartAsync"));
        Assert.That(error.ErrorCode, Is.EqualTo(PresenceErrorCodes.Unknown));
        var read = await Assert.ThrowsAsync<PresenceException>(async () => await engine.GetPresenceAsync(Alice, Alice));
        Assert.That(read!.ErrorCode, Is.EqualTo(PresenceErrorCodes.Unknown));
    }

    [Test]
    public async Task Calls_AfterDispose_ThrowObjectDisposed_AndDisposeIsIdempotent()
    {
        var h = await StartAsync();
        await h.Engine.StartAsync();
        await h.DisposeAsync();
        await h.Engine.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => h.Engine.Heartbeat(Alice, "D1"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await h.Engine.SubscribeAsync(Alice));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await h.Engine.StartAsync());
    }

    [Test]
    public async Task ForeignUser_IsRejectedCountedAndChangesNothing()
    {
        await using var h = await StartAsync();
        var foreign = UserId.Parse("@mallory:evil.example");

        var error = Assert.Throws<PresenceException>(() => h.Engine.SetPresence(foreign, "D1", PresenceState.Online, null));

        Assert.That(error!.Message, Does.Contain("not a user of this server"));
        Assert.That(error.ErrorCode, Is.EqualTo(PresenceErrorCodes.Forbidden));
        Assert.That(h.Metrics.Total(PresenceMetrics.InputsRejected, "foreign_user"), Is.EqualTo(1));
        Assert.That((await h.Engine.GetPresenceAsync(foreign, foreign)).Presence.IsUnknown, Is.True);
        Assert.That(h.Metrics.Observe(PresenceMetrics.TrackedUsers), Is.Zero);
    }

    [Test]
    public async Task BadInputs_GetClearErrors()
    {
        await using var h = await StartAsync();

        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentNullException>(() => h.Engine.Heartbeat(Alice, null!));
            InvalidParam(() => h.Engine.Heartbeat(Alice, string.Empty));
            InvalidParam(() => h.Engine.Heartbeat(Alice, new string('d', 256)));
            InvalidParam(() => h.Engine.Heartbeat(default, "D1"));
            InvalidParam(() => h.Engine.ReportIdle(Alice, "D1", TimeSpan.FromSeconds(-1)));
            InvalidParam(() => h.Engine.SetDeviceKind(Alice, "D1", DeviceKinds.Mobile | DeviceKinds.Web));
            InvalidParam(() => h.Engine.SetDeviceKind(Alice, "D1", DeviceKinds.None));
            InvalidParam(() => h.Engine.SetPresence(Alice, "D1", PresenceState.Unknown, null));
            InvalidParam(() => h.Engine.Heartbeat(Alice, "D1", (PresenceState)99));
            var busy = InvalidParam(() => h.Engine.SetPresence(Alice, "D1", PresenceState.Busy, null));
            Assert.That(busy!.Message, Does.Contain("EnableBusy"));
        });
        Assert.That(h.Metrics.Observe(PresenceMetrics.TrackedUsers), Is.Zero, "rejected inputs leave no trace");
    }

    [Test]
    public async Task IdleDuration_OverAYear_IsRejected()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");

        InvalidParam(() => h.Engine.ReportIdle(Alice, "D1", TimeSpan.MaxValue));
        Assert.DoesNotThrow(() => h.Engine.ReportIdle(Alice, "D1", TimeSpan.FromDays(365)));
        Assert.That((await h.ReadAsync(Alice)).LastActive, Is.EqualTo(h.Now - TimeSpan.FromDays(365)));
    }

    [Test]
    public async Task ManyUsers_TimeoutsFireInOrderWithOneTimer()
    {
        await using var h = await StartAsync();
        for (int i = 0; i < 200; i++)
        {
            h.Engine.Heartbeat(User("u" + i), "D1");
            h.Advance(TimeSpan.FromMilliseconds(100));
        }

        int timers = h.Timers.ArmedTimers;
        h.Advance(TimeSpan.FromMilliseconds(19_950));

        Assert.That(timers, Is.EqualTo(1), "one timer drives every deadline");
        Assert.That((await h.ReadAsync(User("u99"))).State, Is.EqualTo(PresenceState.Offline));
        Assert.That((await h.ReadAsync(User("u100"))).State, Is.EqualTo(PresenceState.Online));
        Assert.That(h.Metrics.Total(PresenceMetrics.DevicesDropped, "sync_timeout"), Is.EqualTo(100));
    }

    /// <summary>The call is refused with <see cref="PresenceErrorCodes.InvalidParam"/> (HTTP 400).</summary>
    private static PresenceException InvalidParam(Action call)
    {
        var error = Assert.Throws<PresenceException>(call);
        Assert.That(error!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));
        return error;
    }
}
