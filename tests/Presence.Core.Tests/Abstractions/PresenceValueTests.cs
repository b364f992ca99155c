namespace Presence.Core.Tests.Abstractions;

public sealed class PresenceValueTests
{
    private static readonly UserId Alice = UserId.Parse("@alice:example.org");

    [Test]
    public void Snapshot_CurrentlyActive_OnlyForOnline()
    {
        var now = DateTimeOffset.UnixEpoch;

        Assert.That(new PresenceSnapshot(Alice, PresenceState.Online, null, now, true, DeviceKinds.Standard).CurrentlyActive, Is.True);
        Assert.That(new PresenceSnapshot(Alice, PresenceState.Unavailable, null, now, true, DeviceKinds.Standard).CurrentlyActive, Is.False);
    }

    [Test]
    public void Snapshot_EmptyStatus_IsNone_AndLastActiveAgoNeverNegative()
    {
        var now = DateTimeOffset.UnixEpoch.AddHours(1);
        var p = new PresenceSnapshot(Alice, PresenceState.Online, string.Empty, now.AddSeconds(5), false, DeviceKinds.None);

        Assert.That(p.StatusMessage, Is.Null);
        Assert.That(p.GetLastActiveAgo(now), Is.EqualTo(TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => _ = new PresenceSnapshot(default, PresenceState.Online, null, null, false, DeviceKinds.None));
    }

    [TestCase(PresenceState.Online, "online")]
    [TestCase(PresenceState.Unavailable, "unavailable")]
    [TestCase(PresenceState.Offline, "offline")]
    [TestCase(PresenceState.Busy, "org.matrix.msc3026.busy")]
    public void WireNames_RoundTrip(PresenceState state, string name)
    {
        Assert.That(PresenceStateNames.ToWireName(state), Is.EqualTo(name));
        Assert.That(PresenceStateNames.TryParse(name, out var parsed), Is.True);
        Assert.That(parsed, Is.EqualTo(state));
    }

    [Test]
    public void WireNames_UnknownHasNone_AndParsingIsStrict()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PresenceStateNames.ToWireName(PresenceState.Unknown));
        Assert.That(PresenceStateNames.TryParse("Online", out _), Is.False);
        Assert.That(PresenceStateNames.TryParse("busy", out _), Is.False);
    }

    [Test]
    public void Record_RejectsUnknownState()
        => Assert.Throws<ArgumentException>(() => _ = new PresenceRecord(Alice, PresenceState.Unknown, null, null));
}
