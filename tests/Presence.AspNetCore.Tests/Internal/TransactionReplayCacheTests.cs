using Presence.Internal;

namespace Presence.AspNetCore.Tests.Internal;

public sealed class TransactionReplayCacheTests
{
    private static readonly ServerName A = ServerName.Parse("a.example");
    private static readonly ServerName B = ServerName.Parse("b.example");

    [Test]
    public void TryBegin_SameIdFromTheSameOrigin_IsAReplay()
    {
        var cache = new TransactionReplayCache(4096, 65536);

        Assert.That(cache.TryBegin(A, "t1"), Is.True);
        Assert.That(cache.TryBegin(A, "t1"), Is.False);
        Assert.That(cache.TryBegin(B, "t1"), Is.True, "transaction IDs are per origin");
    }

    [Test]
    public void TryBegin_LongIds_AreBoundedInBytesNotCount()
    {
        var cache = new TransactionReplayCache(4096, 16384);
        string big = new('x', 1000);

        for (int i = 0; i < 1000; i++)
        {
            cache.TryBegin(ServerName.Parse($"s{i % 50}.example"), big + i);
        }

        Assert.That(cache.Bytes, Is.LessThanOrEqualTo(16384));
    }

    [Test]
    public void TryBegin_FloodFromOneOrigin_KeepsAnotherOriginsIdsWithinTheTotal()
    {
        var cache = new TransactionReplayCache(4096, 65536);
        cache.TryBegin(A, "old");

        for (int i = 0; i < 10_000; i++)
        {
            cache.TryBegin(B, new string('y', 200) + i);
        }

        Assert.That(cache.TryBegin(A, "old"), Is.False);
        Assert.That(cache.Bytes, Is.LessThanOrEqualTo(65536));
    }

    [Test]
    public void Forget_AFailedTransaction_LetsItApplyAgain()
    {
        var cache = new TransactionReplayCache(4096, 65536);
        cache.TryBegin(A, "t1");

        cache.Forget(A, "t1");

        Assert.That(cache.TryBegin(A, "t1"), Is.True);
    }
}
