using Presence.Internal;

namespace Presence.Core.Tests.Internal;

public sealed class WatchdogManagerTests
{
    private const long Second = TimeSpan.TicksPerSecond;
    private const long Short = 60 * Second;
    private const long Long = 3600 * Second;
    private static readonly ServerName Peer = ServerName.Parse("b.example");

    private static List<(ServerName Peer, bool Long)> ExpireAt(WatchdogManager w, long now)
    {
        var fired = new List<(ServerName, bool)>();
        w.Expire(now, fired);
        return fired;
    }

    [Test]
    public void Short_FiresAfterAMinuteWithoutTraffic_ExactlyAtTheDeadline()
    {
        var w = new WatchdogManager(Short, Long);
        w.Track(Peer, 0);

        Assert.That(ExpireAt(w, Short - 1), Is.Empty);
        Assert.That(ExpireAt(w, Short), Is.EqualTo(new[] { (Peer, false) }));
        Assert.That(ExpireAt(w, (2 * Short) - 1), Is.Empty, "a fired deadline restarts from when it fired");
        Assert.That(ExpireAt(w, 2 * Short), Has.Count.EqualTo(1));
    }

    [Test]
    public void Traffic_ResetsTheShortDeadline()
    {
        var w = new WatchdogManager(Short, Long);
        w.Track(Peer, 0);

        w.NoteTraffic(Peer, 50 * Second);

        Assert.That(ExpireAt(w, Short), Is.Empty);
        Assert.That(ExpireAt(w, (50 * Second) + Short), Has.Count.EqualTo(1));
    }

    [Test]
    public void Long_FiresDespiteContinuousTraffic_AndAReminderResetsIt()
    {
        var w = new WatchdogManager(Short, Long);
        w.Track(Peer, 0);
        var (_, firstLong) = w.DeadlinesOf(Peer);
        Assert.That(firstLong, Is.InRange(Long, 2 * Long), "staggered within the next long period");

        var fired = new List<(ServerName, bool)>();
        for (long t = 30 * Second; t < firstLong + (30 * Second); t += 30 * Second)
        {
            w.NoteTraffic(Peer, t);
            fired.AddRange(ExpireAt(w, t));
        }

        Assert.That(fired, Is.EqualTo(new[] { (Peer, true) }), "only the long deadline fires while traffic flows");
        w.NoteReminder(Peer, firstLong + (40 * Second));
        Assert.That(w.DeadlinesOf(Peer).Long, Is.EqualTo(firstLong + (40 * Second) + Long));
    }

    [Test]
    public void Reminder_CanMoveAStaggeredLongDeadlineEarlier()
    {
        var w = new WatchdogManager(Short, Long);
        w.Track(Peer, 0);
        w.NoteReminder(Peer, 10 * Second);
        Assert.That(w.DeadlinesOf(Peer).Long, Is.EqualTo((10 * Second) + Long));

        var fired = new List<(ServerName, bool)>();
        for (long t = 30 * Second; t <= Long + (30 * Second); t += 30 * Second)
        {
            w.NoteTraffic(Peer, t);
            fired.AddRange(ExpireAt(w, t));
        }

        Assert.That(fired, Is.EqualTo(new[] { (Peer, true) }), "the long deadline moved to an hour after the reminder and fired there");
    }

    [Test]
    public void LongDeadlines_OfAThousandPeers_AreSpreadOverThePeriod()
    {
        var w = new WatchdogManager(Short, Long);
        var peers = Enumerable.Range(0, 1000).Select(i => ServerName.Parse($"s{i}.example")).ToList();
        foreach (var p in peers)
        {
            w.Track(p, 0);
        }

        var perMinute = peers.Select(p => (int)((w.DeadlinesOf(p).Long - Long) / (60 * Second))).GroupBy(m => m).ToDictionary(g => g.Key, g => g.Count());

        Assert.That(perMinute.Keys.Min(), Is.GreaterThanOrEqualTo(0));
        Assert.That(perMinute.Keys.Max(), Is.LessThan(60));
        Assert.That(perMinute, Has.Count.GreaterThanOrEqualTo(55), "nearly every minute of the hour has some");
        Assert.That(perMinute.Values.Max(), Is.LessThanOrEqualTo(35), "no minute holds more than about twice the even share of 16.7");
    }

    [Test]
    public void UntrackedPeer_TrafficIsIgnored_AndNothingFires()
    {
        var w = new WatchdogManager(Short, Long);

        w.NoteTraffic(Peer, 0);

        Assert.That(w.IsTracked(Peer), Is.False);
        Assert.That(ExpireAt(w, 10 * Long), Is.Empty);
    }
}
