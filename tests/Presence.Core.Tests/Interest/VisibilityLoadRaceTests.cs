using System.Threading.Channels;
using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Interest;

/// <summary>
/// A visibility set while the user's stored record is still being read (a host store: the engine reads it in the
/// background). <see cref="MaySeeModelTests"/> cannot reach this: the in-memory store answers at once.
/// </summary>
[CancelAfter(10_000)]
public sealed class VisibilityLoadRaceTests
{
    private static readonly UserId Alice = User("alice");
    private static readonly UserId Bob = User("bob");
    private const string Room = "!r:example.org";

    /// <summary>
    /// Bob's stored record says Nobody. He sets RoomMembers while the engine reads that record; the merge puts the stored
    /// Nobody back (into his record and into the rule's state), so Alice, in his room, may not see him.
    /// </summary>
    [Test]
    public async Task SetVisibility_WidenedWhileTheStoredRecordIsRead_TheNewChoiceHolds()
    {
        var store = new ReleasedStore();
        await store.Inner.SaveAsync([new PresenceRecord(Bob, PresenceState.Online, null, null, PresenceVisibility.Nobody)], CancellationToken.None);
        var view = new InMemoryMembershipView();
        await using var engine = await StartInRoomAsync(store, view);

        engine.SetVisibility(Bob, PresenceVisibility.RoomMembers); // Bob is not in memory: his record is being read
        (await store.NextLoadAsync()).SetResult(); // the record arrives
        var read = await engine.GetPresenceAsync(Alice, Bob);

        Assert.That(read.IsAllowed, Is.True, "Bob shows his presence to room members now");
    }

    /// <summary>
    /// Bob's stored record says RoomMembers. He sets Nobody while the engine reads that record. The rule's state keeps
    /// Nobody (reads are refused), but the merge put RoomMembers back into his record, which is what is saved: after a
    /// restart Alice sees him again.
    /// </summary>
    [Test]
    public async Task SetVisibility_NarrowedWhileTheStoredRecordIsRead_StaysNarrowAfterARestart()
    {
        var store = new ReleasedStore();
        await store.Inner.SaveAsync([new PresenceRecord(Bob, PresenceState.Online, "here", null)], CancellationToken.None);
        var view = new InMemoryMembershipView();
        await using (var engine = await StartInRoomAsync(store, view))
        {
            engine.SetVisibility(Bob, PresenceVisibility.Nobody);
            (await store.NextLoadAsync()).SetResult(); // the record arrives
            Assert.That((await engine.GetPresenceAsync(Alice, Bob)).IsAllowed, Is.False, "hidden while this engine runs");
        }

        store.Hold = false;
        await using var restarted = await StartInRoomAsync(store, view);
        var read = await restarted.GetPresenceAsync(Alice, Bob);

        Assert.Multiple(() =>
        {
            Assert.That(store.Inner.TryGet(Bob, out var saved) ? saved.Visibility : (PresenceVisibility?)null, Is.EqualTo(PresenceVisibility.Nobody), "what was saved");
            Assert.That(read.IsAllowed, Is.False, "Bob chose Nobody");
        });
    }

    /// <summary>Without the race (the record read first), the choice holds across a restart.</summary>
    [Test]
    public async Task SetVisibility_AfterTheStoredRecordIsRead_HoldsAcrossARestart()
    {
        var store = new ReleasedStore();
        await store.Inner.SaveAsync([new PresenceRecord(Bob, PresenceState.Online, "here", null)], CancellationToken.None);
        var view = new InMemoryMembershipView();
        await using (var engine = await StartInRoomAsync(store, view))
        {
            var first = engine.GetPresenceAsync(Alice, Bob).AsTask();
            (await store.NextLoadAsync()).SetResult(); // the record arrives
            Assert.That((await first).IsAllowed, Is.True);

            engine.SetVisibility(Bob, PresenceVisibility.Nobody);
            Assert.That((await engine.GetPresenceAsync(Alice, Bob)).IsAllowed, Is.False);
        }

        store.Hold = false;
        await using var restarted = await StartInRoomAsync(store, view);

        Assert.That((await restarted.GetPresenceAsync(Alice, Bob)).IsAllowed, Is.False);
    }

    private static async Task<IPresenceEngine> StartInRoomAsync(IPresenceStore store, InMemoryMembershipView view)
    {
        var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, store, new FakeTimeProvider(Start));
        await engine.StartAsync();
        foreach (var user in new[] { Alice, Bob })
        {
            view.Join(Room, user);
            await engine.UserJoinedRoomAsync(user, Room);
        }

        return engine;
    }

    /// <summary>A host store (not the engine's own in-memory one, so reads go through the background loader) whose reads wait for the test.</summary>
    private sealed class ReleasedStore : IPresenceStore
    {
        private readonly Channel<TaskCompletionSource> _loads = Channel.CreateUnbounded<TaskCompletionSource>();

        public InMemoryPresenceStore Inner { get; } = new();

        /// <summary>Gets or sets whether reads wait for <see cref="NextLoadAsync"/>'s release.</summary>
        public bool Hold { get; set; } = true;

        /// <summary>Waits for the engine's next read of the store; completing what it returns lets the read finish.</summary>
        public async Task<TaskCompletionSource> NextLoadAsync() => await _loads.Reader.ReadAsync(TestContext.CurrentContext.CancellationToken);

        public ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken) => Inner.SaveAsync(records, cancellationToken);

        public async ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
        {
            if (Hold)
            {
                var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _loads.Writer.TryWrite(release);
                await release.Task.WaitAsync(cancellationToken);
            }

            return await Inner.LoadAsync(users, cancellationToken);
        }
    }
}
