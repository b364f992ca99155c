namespace Presence.Testing;

/// <summary>
/// What the engine relies on from an <see cref="IPresenceStore"/>: a save is durable when it completes (a reopened store reads
/// it back), the newest record of a user wins, every field round-trips, loads return exactly the users asked for that have a
/// record, in batches of any size. Inherit it in an NUnit test project and implement <see cref="StoreContractTests{TStore}.CreateStoreAsync"/>.
/// </summary>
[CancelAfter(60_000)]
public abstract class PresenceStoreContractTests : StoreContractTests<IPresenceStore>
{
    /// <summary>How many users the large-load test reads; override to exercise a store's own batching.</summary>
    protected virtual int ManyUsers => 2_500;

    /// <summary>Every field survives a save and a reopen.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task SaveAsync_ThenReopen_LoadsEveryField()
    {
        var store = await NewStoreAsync();
        var busy = new PresenceRecord(User("alice"), PresenceState.Busy, "in a meeting 🗓️ — back soon", At(0), PresenceVisibility.PresenceListOnly);
        var bare = new PresenceRecord(User("bob"), PresenceState.Offline, null, null, PresenceVisibility.Nobody);
        var online = new PresenceRecord(User("carol"), PresenceState.Online, "here", At(-86_400_000));

        await store.SaveAsync([busy, bare, online], CancellationToken.None);
        var reopened = await ReopenTrackedAsync(store);
        var loaded = (await reopened.LoadAsync([busy.User, bare.User, online.User], CancellationToken.None)).ToDictionary(static r => r.User);

        Assert.That(loaded, Has.Count.EqualTo(3));
        AssertSame(loaded[busy.User], busy);
        AssertSame(loaded[bare.User], bare);
        AssertSame(loaded[online.User], online);
    }

    /// <summary>A later save of a user replaces the earlier one.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task SaveAsync_SameUserAgain_NewestWins()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync([new PresenceRecord(User("alice"), PresenceState.Online, "first", At(0))], CancellationToken.None);
        var newer = new PresenceRecord(User("alice"), PresenceState.Unavailable, null, At(5_000), PresenceVisibility.Nobody);

        await store.SaveAsync([newer], CancellationToken.None);
        var loaded = await (await ReopenTrackedAsync(store)).LoadAsync([newer.User], CancellationToken.None);

        Assert.That(loaded, Has.Count.EqualTo(1));
        AssertSame(loaded[0], newer);
    }

    /// <summary>Users without a record are simply absent; users with one are all there.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task LoadAsync_SomeUsersUnknown_ReturnsOnlyStored()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync([new PresenceRecord(User("alice"), PresenceState.Online, null, At(0)), new PresenceRecord(User("carol"), PresenceState.Offline, null, null)], CancellationToken.None);

        var loaded = await store.LoadAsync([User("alice"), User("bob"), User("carol"), User("dave")], CancellationToken.None);

        Assert.That(loaded.Select(static r => r.User), Is.EquivalentTo(new[] { User("alice"), User("carol") }));
    }

    /// <summary>Nothing asked, nothing returned; nothing saved, nothing found.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task LoadAsync_EmptyOrNeverSaved_ReturnsNothing()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync([], CancellationToken.None);

        Assert.That(await store.LoadAsync([], CancellationToken.None), Is.Empty);
        Assert.That(await store.LoadAsync([User("nobody")], CancellationToken.None), Is.Empty);
    }

    /// <summary>Many users saved in one call and read in one call: all there, each with its own record.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task SaveAndLoad_ManyUsers_EveryRecordRoundTrips()
    {
        var store = await NewStoreAsync();
        var records = Enumerable.Range(0, ManyUsers).Select(static i => new PresenceRecord(User($"u{i}"), (PresenceState)(1 + (i % 4)), i % 3 == 0 ? null : $"status {i}", At(i), (PresenceVisibility)(i % 3))).ToList();

        await store.SaveAsync(records, CancellationToken.None);
        var loaded = (await (await ReopenTrackedAsync(store)).LoadAsync(records.Select(static r => r.User).ToList(), CancellationToken.None)).ToDictionary(static r => r.User);

        Assert.That(loaded, Has.Count.EqualTo(records.Count));
        foreach (var record in records)
        {
            AssertSame(loaded[record.User], record);
        }
    }

    /// <summary>A save asked with a cancelled token reports the cancellation rather than success.</summary>
    /// <returns>A task.</returns>
    [Test]
    public async Task SaveAsync_CancelledToken_Throws()
    {
        var store = await NewStoreAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        Assert.That(async () => await store.SaveAsync([new PresenceRecord(User("alice"), PresenceState.Online, null, null)], cancelled.Token), Throws.InstanceOf<OperationCanceledException>());
    }

    private static void AssertSame(PresenceRecord actual, PresenceRecord expected)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(actual.User, Is.EqualTo(expected.User));
            Assert.That(actual.RequestedState, Is.EqualTo(expected.RequestedState), "requested state of " + expected.User);
            Assert.That(actual.StatusMessage, Is.EqualTo(expected.StatusMessage), "status message of " + expected.User);
            Assert.That(actual.LastActive, Is.EqualTo(expected.LastActive), "last active of " + expected.User);
            Assert.That(actual.Visibility, Is.EqualTo(expected.Visibility), "visibility of " + expected.User);
        }
    }
}
