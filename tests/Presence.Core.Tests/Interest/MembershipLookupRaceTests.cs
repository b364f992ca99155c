using System.Threading.Channels;
using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Interest;

/// <summary>
/// The room-cache race of <see cref="RoomCacheModelTests.RoomCache_ConcurrentLookupsOfOneKey_AnswersMatchTruth"/>
/// through the engine, with a host membership view whose answers the test releases one at a time.
/// </summary>
[CancelAfter(10_000)]
public sealed class MembershipLookupRaceTests
{
    private static readonly UserId Alice = User("alice");
    private static readonly UserId Bob = User("bob");
    private const string Room = "!r:example.org";

    /// <summary>
    /// 1. A read of Alice asks the host for her rooms; the host answers "none" (as of then), but the answer is slow.
    /// 2. Alice joins a room Bob is in; the engine is told. The join asks for her rooms again (the cache lacks them),
    ///    which clears the mark the join left on the first lookup; the second answer (the room) is cached.
    /// 3. The first, stale answer arrives and replaces the second: Alice is cached with no rooms.
    /// From then on Bob may not see Alice although they share the room, until the entry is evicted or replaced.
    /// </summary>
    [Test]
    public async Task GetPresenceAsync_StaleLookupAnswerArrivingAfterAJoin_StillSeesTheSharedRoom()
    {
        var view = new ReleasedMembershipView();
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, timeProvider: new FakeTimeProvider(Start));
        await engine.StartAsync();

        var firstRead = engine.GetPresenceAsync(Bob, Alice).AsTask();
        var staleRooms = await view.NextAsync("rooms of @alice:example.org"); // asked before she joined
        var join = engine.UserJoinedRoomAsync(Alice, Room).AsTask();
        (await view.NextAsync("rooms of @alice:example.org")).Answer(new[] { Room }); // the join's own lookup
        (await view.NextAsync($"members of {Room}")).Answer(new[] { Alice, Bob });
        await join;
        staleRooms.Answer(Array.Empty<string>()); // "no rooms", as of before the join
        await firstRead; // started before the join: either answer is fine for it

        var read = await engine.GetPresenceAsync(Bob, Alice);

        Assert.That(read.IsAllowed, Is.True, "Alice and Bob share a room");
    }

    /// <summary>The same with one lookup at a time: the change marks the lookup, its answer is refused and the read asks again.</summary>
    [Test]
    public async Task GetPresenceAsync_LookupRacedByALeave_AsksAgainAndSeesTheSharedRoom()
    {
        var view = new ReleasedMembershipView();
        await using var engine = PresenceEngine.Create(new PresenceOptions { ServerName = Server }, view, timeProvider: new FakeTimeProvider(Start));
        await engine.StartAsync();

        var read = engine.GetPresenceAsync(Bob, Alice).AsTask();
        var staleRooms = await view.NextAsync("rooms of @alice:example.org"); // asked while she was still in !other
        await engine.UserLeftRoomAsync(Alice, "!other:example.org"); // heard while the lookup runs; asks nothing itself
        staleRooms.Answer(new[] { Room, "!other:example.org" });
        (await view.NextAsync("rooms of @alice:example.org")).Answer(new[] { Room }); // asked again: the raced answer was refused
        (await view.NextAsync($"members of {Room}")).Answer(new[] { Alice, Bob });

        Assert.That((await read).IsAllowed, Is.True);
    }

    /// <summary>A host view whose every answer waits until the test gives it; the test takes the questions in the order asked.</summary>
    private sealed class ReleasedMembershipView : IMembershipView
    {
        private readonly Channel<Pending> _asked = Channel.CreateUnbounded<Pending>();

        /// <summary>Waits for the engine's next question (continuations may run on the thread pool) and checks what it is.</summary>
        public async Task<Pending> NextAsync(string expected)
        {
            var next = await _asked.Reader.ReadAsync(TestContext.CurrentContext.CancellationToken);
            Assert.That(next.What, Is.EqualTo(expected), "the engine's next question");
            return next;
        }

        public ValueTask<IReadOnlyCollection<string>> GetRoomsOfUserAsync(UserId user, CancellationToken cancellationToken)
            => new(Ask<string>($"rooms of {user}").Task);

        public ValueTask<IReadOnlyCollection<UserId>> GetMembersOfRoomAsync(string roomId, CancellationToken cancellationToken)
            => new(Ask<UserId>($"members of {roomId}").Task);

        private TaskCompletionSource<IReadOnlyCollection<T>> Ask<T>(string what)
        {
            var answer = new TaskCompletionSource<IReadOnlyCollection<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
            _asked.Writer.TryWrite(new Pending(what, answer));
            return answer;
        }

        public sealed record Pending(string What, object Source)
        {
            public void Answer<T>(T[] value)
            {
                if (Source is not TaskCompletionSource<IReadOnlyCollection<T>> source)
                {
                    throw new InvalidOperationException($"The engine asked for {What}, not for {typeof(T).Name}s.");
                }

                source.SetResult(value);
            }
        }
    }
}
