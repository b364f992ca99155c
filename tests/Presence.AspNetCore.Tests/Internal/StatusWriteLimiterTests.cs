using Presence.Internal;

namespace Presence.AspNetCore.Tests.Internal;

public sealed class StatusWriteLimiterTests
{
    private static UserId User(int i) => UserId.Parse($"@u{i}:example.org");

    [Test]
    public void TryAcquire_PastTheLimit_SaysWhenTheOldestWriteLeavesTheWindow()
    {
        var clock = new FakeTimeProvider();
        var limiter = new StatusWriteLimiter(2, TimeSpan.FromSeconds(10), clock);

        limiter.TryAcquire(User(1), out _);
        clock.Advance(TimeSpan.FromSeconds(4));
        limiter.TryAcquire(User(1), out _);

        Assert.That(limiter.TryAcquire(User(1), out var retryAfter), Is.False);
        Assert.That(retryAfter, Is.EqualTo(TimeSpan.FromSeconds(6)));
        Assert.That(limiter.TryAcquire(User(2), out _), Is.True, "each user has their own budget");
    }

    [Test]
    public void Refund_AWriteTheEngineRefused_GivesItBack()
    {
        var limiter = new StatusWriteLimiter(1, TimeSpan.FromSeconds(10), new FakeTimeProvider());
        limiter.TryAcquire(User(1), out _);

        limiter.Refund(User(1));

        Assert.That(limiter.TryAcquire(User(1), out _), Is.True);
    }

    [Test]
    public void TryAcquire_ManyUsersLongAgo_AreSweptSoMemoryStaysBounded()
    {
        var clock = new FakeTimeProvider();
        var limiter = new StatusWriteLimiter(5, TimeSpan.FromSeconds(10), clock);
        for (int i = 0; i < 2000; i++)
        {
            limiter.TryAcquire(User(i), out _);
        }

        clock.Advance(TimeSpan.FromSeconds(11));
        for (int i = 2000; i < 2100; i++)
        {
            limiter.TryAcquire(User(i), out _);
        }

        Assert.That(limiter.TrackedUsers, Is.EqualTo(100), "only the users who wrote within the window are held; the 2,000 before are forgotten");
    }
}
