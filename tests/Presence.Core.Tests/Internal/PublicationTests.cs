using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class PublicationTests
{
    private static readonly UserId Alice = User("alice");

    [Test]
    public async Task Heartbeat_ThatChangesNothing_PublishesNothing()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        long before = h.Publications;

        for (int i = 0; i < 50; i++)
        {
            h.Advance(TimeSpan.FromSeconds(1));
            h.Engine.Heartbeat(Alice, "D1");
            h.Engine.Heartbeat(Alice, "D1", PresenceState.Online);
        }

        Assert.That(h.Publications, Is.EqualTo(before));
        Assert.That(h.Metrics.Observe(PresenceMetrics.Heartbeats), Is.EqualTo(101));
    }

    [Test]
    public async Task Heartbeat_ThatChangesNothing_AllocatesNothing()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        for (int i = 0; i < 1_000; i++)
        {
            h.Engine.Heartbeat(Alice, "D1");
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            h.Engine.Heartbeat(Alice, "D1");
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero);
    }

    [Test]
    public async Task Activity_WhileCurrentlyActive_PublishesNothing()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        long before = h.Publications;

        h.Advance(TimeSpan.FromSeconds(10));
        h.Engine.ReportActivity(Alice, "D1");
        h.Advance(TimeSpan.FromSeconds(10));
        h.Engine.ReportActivity(Alice, "D1");

        Assert.That(h.Publications, Is.EqualTo(before));
        Assert.That((await h.ReadAsync(Alice)).LastActive, Is.EqualTo(h.Now), "reads still see the exact last-active time");
    }

    [Test]
    public async Task Activity_AfterCurrentlyActiveLapsed_PublishesTheFlip()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        h.SyncFor(TimeSpan.FromSeconds(90), Alice, "D1");
        long before = h.Publications;

        h.Engine.ReportActivity(Alice, "D1");

        Assert.That(h.Publications, Is.EqualTo(before + 1));
    }

    [Test]
    public async Task LastActiveJump_InOtherStates_PublishedOnlyBeyondGranularity()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Offline, null);
        h.Engine.ReportActivity(Alice, "D1");
        long start = h.Publications;

        h.SyncFor(TimeSpan.FromSeconds(60), Alice, "D1");
        h.Engine.ReportActivity(Alice, "D1");
        long afterSmallJump = h.Publications;
        h.SyncFor(TimeSpan.FromSeconds(61), Alice, "D1");
        h.Engine.ReportActivity(Alice, "D1");

        Assert.That(afterSmallJump, Is.EqualTo(start), "a jump equal to the granularity is not published");
        Assert.That(h.Publications, Is.EqualTo(start + 1), "a jump larger than the granularity is");
    }

    [Test]
    public async Task StateChange_IsPublishedOnce()
    {
        await using var h = await StartAsync();
        h.Engine.Heartbeat(Alice, "D1");
        long before = h.Publications;

        h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, null);
        h.Engine.Heartbeat(Alice, "D1", PresenceState.Unavailable);

        Assert.That(h.Publications, Is.EqualTo(before + 1));
    }
}
