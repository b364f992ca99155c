using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class StatusMessageTests
{
    private static readonly UserId Alice = User("alice");

    [Test]
    public async Task ExplicitSet_ReplacesAndMissingClears()
    {
        await using var h = await StartAsync();

        var set = h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "lunch");
        var replaced = h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "back");
        var cleared = h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, null);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "x");
        var clearedByEmpty = h.Engine.SetPresence(Alice, "D1", PresenceState.Online, string.Empty);

        Assert.Multiple(() =>
        {
            Assert.That(set.StatusMessage, Is.EqualTo("lunch"));
            Assert.That(replaced.StatusMessage, Is.EqualTo("back"));
            Assert.That(cleared.StatusMessage, Is.Null);
            Assert.That(clearedByEmpty.StatusMessage, Is.Null);
        });
    }

    [Test]
    public async Task SyncsActivityIdleAndTimeouts_KeepTheStatusMessage()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "in a meeting");

        h.Engine.Heartbeat(Alice, "D1");
        h.Engine.Heartbeat(Alice, "D1", PresenceState.Unavailable);
        h.Engine.ReportActivity(Alice, "D1");
        h.Engine.ReportIdle(Alice, "D1", TimeSpan.FromMinutes(1));
        h.SyncFor(TimeSpan.FromMinutes(6), Alice, "D1");
        h.Advance(TimeSpan.FromMinutes(1));

        var p = await h.ReadAsync(Alice);
        Assert.That(p.State, Is.EqualTo(PresenceState.Offline));
        Assert.That(p.StatusMessage, Is.EqualTo("in a meeting"));
    }

    [Test]
    public async Task StatusChange_SameState_IsPublished()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "a");
        long before = h.Publications;

        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "b");

        Assert.That(h.Publications, Is.EqualTo(before + 1));
    }

    [Test]
    public async Task TooLong_IsRejectedWithTheOptionNamed_AndChangesNothing()
    {
        await using var h = await StartAsync(o => o.MaxStatusMessageLength = 10);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "short");

        var error = Assert.Throws<PresenceException>(() => h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, new string('x', 11)));
        Assert.That(error!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));

        var p = await h.ReadAsync(Alice);
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain("MaxStatusMessageLength"));
            Assert.That(p.StatusMessage, Is.EqualTo("short"));
            Assert.That(p.State, Is.EqualTo(PresenceState.Online));
            Assert.That(h.Metrics.Total(PresenceMetrics.InputsRejected, "status_too_long"), Is.EqualTo(1));
        });
        Assert.That(h.Engine.SetPresence(Alice, "D1", PresenceState.Online, new string('x', 10)).StatusMessage, Has.Length.EqualTo(10), "exactly at the limit is accepted");
    }
}
