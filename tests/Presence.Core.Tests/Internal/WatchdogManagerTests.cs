using Presence.Internal;

namespace Presence.Core.Tests.Internal;

public sealed class WatchdogManagerTests
{
    private const long Second = TimeSpan.TicksPerSecond;
    private const long Short = 60 * Second;
    private const long Long = 3600 * Second;
    private const long Refresh = 20 * 60 * Second;
    private static readonly ServerName Origin = ServerName.Parse("a.example");
    private static readonly ServerName Peer = ServerName.Parse("b.example");

    private static WatchdogManager Create(long refresh = 1000 * Long) => new(Origin, Short, Long, refresh);

    /// <summary>The short and long firings (true for long) at <paramref name="now"/>; refreshes are tested on their own.</summary>
    private static List<(ServerName Peer, bool Long)> ExpireAt(WatchdogManager w, long now)
    {
        var fired = new List<(ServerName, WatchdogKind)>();
        w.Expire(now, fired);
        return [.. fired.Where(f => f.Item2 != WatchdogKind.Refresh).Select(f => (f.Item1, f.Item2 == WatchdogKind.Long))];
    }

    [Test]
    public void Short_FiresAfterAMinuteWithoutTraffic_ExactlyAtTheDeadline()
    {
        var w = Create();
        w.Track(Peer, 0);

        Assert.That(ExpireAt(w, Short - 1), Is.Empty);
        Assert.That(ExpireAt(w, Short), Is.EqualTo(new[] { (Peer, false) }));
        Assert.That(ExpireAt(w, (2 * Short) - 1), Is.Empty, "a fired deadline restarts from when it fired");
        Assert.That(ExpireAt(w, 2 * Short), Has.Count.EqualTo(1));
    }

    [Test]
    public void Traffic_ResetsTheShortDeadline()
    {
        var w = Create();
        w.Track(Peer, 0);

        w.NoteTraffic(Peer, 50 * Second);

        Assert.That(ExpireAt(w, Short), Is.Empty);
        Assert.That(ExpireAt(w, (50 * Second) + Short), Has.Count.EqualTo(1));
    }

    [Test]
    public void Long_FiresDespiteContinuousTraffic_AndAReminderFromThePeerDoesNotDelayIt()
    {
        var w = Create();
        w.Track(Peer, 0);
        var (_, firstLong) = w.DeadlinesOf(Peer);
        Assert.That(firstLong, Is.InRange(Long / 2, Long - 1), "staggered within the second half of the first period");

        var fired = new List<(ServerName, bool)>();
        for (long t = 30 * Second; t < firstLong + (30 * Second); t += 30 * Second)
        {
            w.NoteTraffic(Peer, t);
            w.NoteReminder(Peer, t); // the peer's own reminders cannot refresh what it sees of our users through rooms
            fired.AddRange(ExpireAt(w, t));
        }

        Assert.That(fired, Is.EqualTo(new[] { (Peer, true) }), "only the long deadline fires while traffic flows");
        Assert.That(w.DeadlinesOf(Peer).Long, Is.InRange(firstLong + Long, firstLong + Long + (30 * Second)), "then every long period");
    }

    [Test]
    public void Refresh_FiresOncePerPeriodAtThePairsPhase()
    {
        var w = Create(Refresh);
        w.Track(Peer, 0);
        var refreshes = new List<long>();
        for (long t = 0; t <= 3 * Refresh; t += Second)
        {
            var fired = new List<(ServerName, WatchdogKind)>();
            w.NoteTraffic(Peer, t);
            w.Expire(t, fired);
            refreshes.AddRange(fired.Where(f => f.Item2 == WatchdogKind.Refresh).Select(_ => t));
        }

        Assert.That(refreshes, Has.Count.EqualTo(3));
        Assert.That(refreshes.Zip(refreshes.Skip(1), (a, b) => b - a), Is.All.EqualTo(Refresh));
        Assert.That(refreshes[0], Is.EqualTo(Presence.Internal.OutboundScheduler.Phase(Origin, Peer, Refresh)).Within(Second));
    }

    [Test]
    public void LongDeadlines_OfAThousandPeers_AreSpreadOverThePeriod()
    {
        var w = Create();
        var peers = Enumerable.Range(0, 1000).Select(i => ServerName.Parse($"s{i}.example")).ToList();
        foreach (var p in peers)
        {
            w.Track(p, 0);
        }

        var perMinute = peers.Select(p => (int)((w.DeadlinesOf(p).Long - (Long / 2)) / (60 * Second))).GroupBy(m => m).ToDictionary(g => g.Key, g => g.Count());

        Assert.That(perMinute.Keys.Min(), Is.GreaterThanOrEqualTo(0));
        Assert.That(perMinute.Keys.Max(), Is.LessThan(30));
        Assert.That(perMinute, Has.Count.GreaterThanOrEqualTo(28), "nearly every minute of the half hour has some");
        Assert.That(perMinute.Values.Max(), Is.LessThanOrEqualTo(67), "no minute holds more than about twice the even share of 33.3");
    }

    [Test]
    public void UntrackedPeer_TrafficIsIgnored_AndNothingFires()
    {
        var w = Create();

        w.NoteTraffic(Peer, 0);

        Assert.That(w.IsTracked(Peer), Is.False);
        Assert.That(ExpireAt(w, 10 * Long), Is.Empty);
    }
}
