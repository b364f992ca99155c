using Presence.Internal;
using static Presence.Core.Tests.EngineHarness;

namespace Presence.Core.Tests.Stream;

/// <summary>The presence stream a host's <c>/sync</c> reads: tokens, snapshots, limits, retention, long-polls.</summary>
[CancelAfter(10_000)]
public sealed class PresenceStreamTests
{
    private const string Room = "!r:example.org";
    private static readonly UserId Alice = User("alice");
    private static readonly UserId Bob = User("bob");
    private static readonly UserId Carol = User("carol");
    private static readonly UserId Eve = User("eve");

    [Test]
    public async Task None_GivesASnapshotOfTheViewerAndEveryoneVisibleWithPresence()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob, Carol);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "hi");
        h.Engine.SetPresence(Carol, "D1", PresenceState.Offline, null);
        h.Engine.Heartbeat(Bob, "D1");
        h.Engine.Heartbeat(Eve, "D1"); // shares no room with Bob

        var answer = await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(answer.IsSnapshot, Is.True);
            Assert.That(answer.Limited, Is.False);
            Assert.That(answer.Changes.Select(p => (p.User, p.State)), Is.EquivalentTo(new[] { (Bob, PresenceState.Online), (Alice, PresenceState.Online) }), "offline Carol is left out by default; Eve is not visible");
            Assert.That(answer.NextToken.IsNone, Is.False);
        });
    }

    [Test]
    public async Task Snapshot_WithIncludeOfflineUsersOnSync_HasOfflineUsersToo()
    {
        await using var h = await StartAsync(o => o.IncludeOfflineUsersOnSync = true);
        await h.ShareRoomAsync(Room, Alice, Bob, Carol);
        h.Engine.SetPresence(Carol, "D1", PresenceState.Offline, null);
        h.Engine.Heartbeat(Bob, "D1");

        var answer = await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None);

        Assert.That(answer.Changes.Select(p => (p.User, p.State)), Does.Contain((Carol, PresenceState.Offline)));
    }

    [Test]
    public async Task Token_ResumesWithWhatChangedSince_EachUserOnceLatestState()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob, Carol);
        h.Engine.Heartbeat(Bob, "D1");
        var first = await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None);

        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "one");
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "two");
        h.Engine.Heartbeat(Eve, "D1"); // invisible to Bob
        var second = await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.Parse(first.NextToken.ToString()));
        var third = await h.Engine.GetChangesSinceAsync(Bob, second.NextToken);

        Assert.Multiple(() =>
        {
            Assert.That(second.IsSnapshot, Is.False);
            Assert.That(second.Changes.Select(p => (p.User, p.StatusMessage)), Is.EqualTo(new[] { (Alice, (string?)"two") }));
            Assert.That(third.Changes, Is.Empty, "nothing repeated");
            Assert.That(third.IsSnapshot, Is.False);
        });
    }

    [Test]
    public async Task SameToken_ReadTwice_GivesTheSameChanges()
    {
        // A /sync response that never reached the client loses nothing: the client asks again with the old token.
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob);
        var start = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;
        h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, "away");

        var once = await h.Engine.GetChangesSinceAsync(Bob, start);
        var again = await h.Engine.GetChangesSinceAsync(Bob, start);

        Assert.That(again.Changes.Select(p => p.StatusMessage), Is.EqualTo(once.Changes.Select(p => p.StatusMessage)).And.EqualTo(new[] { "away" }));
    }

    [Test]
    public async Task TokenOfAnotherEngine_OrFromBeforeARestart_GetsASnapshot()
    {
        var store = new InMemoryPresenceStore();
        var clock = new FakeTimeProvider(Start);
        var rooms = new InMemoryMembershipView();
        PresenceStreamToken old;
        await using (var before = await StartAsync(store: store, clock: clock, rooms: rooms))
        {
            await before.ShareRoomAsync(Room, Alice, Bob);
            before.Engine.SetPresence(Alice, "D1", PresenceState.Online, "hello");
            old = (await before.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;
        }

        await using var after = await StartAsync(store: store, clock: clock, rooms: rooms);
        after.Engine.SetPresence(Alice, "D1", PresenceState.Online, "hello again");
        await using var other = await StartAsync();

        var restarted = await after.Engine.GetChangesSinceAsync(Bob, old);
        var foreign = await other.Engine.GetChangesSinceAsync(Bob, old);
        var garbled = await after.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.Parse("not-a-token"));

        Assert.Multiple(() =>
        {
            Assert.That(restarted.IsSnapshot, Is.True);
            Assert.That(restarted.Changes.Select(p => p.StatusMessage), Does.Contain("hello again"));
            Assert.That(foreign.IsSnapshot, Is.True);
            Assert.That(garbled.IsSnapshot, Is.True);
        });
    }

    [Test]
    public async Task TokenOlderThanRetention_GetsASnapshot_AndMemoryStaysWithinTheBound()
    {
        const int retention = PresenceOptions.MinStreamRetention;
        await using var h = await StartAsync(o => o.StreamRetention = retention);
        await h.ShareRoomAsync(Room, Alice, Bob);
        var old = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;
        var engine = (DefaultPresenceEngine)h.Engine;

        for (int i = 0; i < 3 * retention; i++)
        {
            h.Engine.SetPresence(User($"u{i}"), "D1", PresenceState.Online, $"s{i}");
        }

        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "latest");
        var answer = await h.Engine.GetChangesSinceAsync(Bob, old);
        var size = engine.StreamSize;

        Assert.Multiple(() =>
        {
            Assert.That(answer.IsSnapshot, Is.True, "the changes since the token are no longer all held");
            Assert.That(answer.Changes.Select(p => p.StatusMessage), Does.Contain("latest"));
            Assert.That(size.Retained, Is.LessThanOrEqualTo(retention + PresenceStream.MaxPartitions), "positions kept");
            Assert.That(size.IndexedUsers, Is.LessThanOrEqualTo(size.Retained), "the per-user index shrinks with the window");
        });
    }

    [Test]
    public async Task Limit_CutsTheAnswer_AndTheNextTokenResumesWithNothingLostOrRepeated()
    {
        await using var h = await StartAsync();
        var users = Enumerable.Range(0, 7).Select(i => User($"m{i}")).ToArray();
        await h.ShareRoomAsync(Room, [Bob, .. users]);
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;
        foreach (var user in users)
        {
            h.Engine.SetPresence(user, "D1", PresenceState.Online, "first");
        }

        h.Engine.SetPresence(users[0], "D1", PresenceState.Online, "again"); // its latest is the newest change

        var seen = new List<PresenceSnapshot>();
        var limitedFlags = new List<bool>();
        for (int reads = 0; reads < 10; reads++)
        {
            var answer = await h.Engine.GetChangesSinceAsync(Bob, token, limit: 3);
            seen.AddRange(answer.Changes);
            limitedFlags.Add(answer.Limited);
            token = answer.NextToken;
            if (!answer.Limited)
            {
                break;
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(limitedFlags, Is.EqualTo(new[] { true, true, false }));
            Assert.That(seen.Select(p => p.User), Is.EquivalentTo(users), "every user once");
            Assert.That(seen.Single(p => p.User == users[0]).StatusMessage, Is.EqualTo("again"));
        });
    }

    [Test]
    public async Task LimitedSnapshot_ResumesWhereItStopped()
    {
        await using var h = await StartAsync();
        var users = Enumerable.Range(0, 9).Select(i => User($"s{i}")).ToArray();
        await h.ShareRoomAsync(Room, [Bob, .. users]);
        foreach (var user in users)
        {
            h.Engine.Heartbeat(user, "D1");
        }

        var first = await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None, limit: 4);
        h.Engine.SetPresence(users[8], "D1", PresenceState.Unavailable, "changed meanwhile");
        var seen = new List<PresenceSnapshot>(first.Changes);
        var token = first.NextToken;
        bool limited = first.Limited;
        for (int reads = 0; limited && reads < 10; reads++)
        {
            var answer = await h.Engine.GetChangesSinceAsync(Bob, token, limit: 4);
            Assert.That(answer.IsSnapshot, Is.False, "a continuation");
            seen.AddRange(answer.Changes);
            token = answer.NextToken;
            limited = answer.Limited;
        }

        var latest = seen.Where(p => p.User == users[8]).Last();
        Assert.Multiple(() =>
        {
            Assert.That(first.IsSnapshot && first.Limited, Is.True);
            Assert.That(seen.Select(p => p.User).Distinct(), Is.EquivalentTo(users), "every visible user arrives");
            Assert.That(latest.StatusMessage, Is.EqualTo("changed meanwhile"));
            Assert.That(seen.Count, Is.LessThanOrEqualTo(users.Length + 1), "nobody repeated but for a change after it was sent");
        });
    }

    [Test]
    public async Task ViewerWhoLostSight_IsToldUnknownOnce_AndNeverSeesLaterChanges()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "visible");
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;

        h.Rooms.Leave(Room, Alice);
        await h.Engine.UserLeftRoomAsync(Alice, Room);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Unavailable, "secret");

        var answer = await h.Engine.GetChangesSinceAsync(Bob, token);
        var after = await h.Engine.GetChangesSinceAsync(Bob, answer.NextToken);

        Assert.Multiple(() =>
        {
            Assert.That(answer.Changes.Select(p => (p.User, p.State)), Is.EqualTo(new[] { (Alice, PresenceState.Unknown) }));
            Assert.That(answer.Changes.Any(p => p.StatusMessage == "secret"), Is.False);
            Assert.That(after.Changes, Is.Empty);
        });
    }

    [Test]
    public async Task NarrowedVisibility_IsToldUnknown_AndWideningShowsTheCurrentPresence()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "hi");
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;

        h.Engine.SetVisibility(Alice, PresenceVisibility.Nobody);
        var hidden = await h.Engine.GetChangesSinceAsync(Bob, token);
        h.Engine.SetVisibility(Alice, PresenceVisibility.RoomMembers);
        var shown = await h.Engine.GetChangesSinceAsync(Bob, hidden.NextToken);

        Assert.Multiple(() =>
        {
            Assert.That(hidden.Changes.Select(p => (p.User, p.State)), Is.EqualTo(new[] { (Alice, PresenceState.Unknown) }));
            Assert.That(shown.Changes.Select(p => (p.User, p.StatusMessage)), Is.EqualTo(new[] { (Alice, (string?)"hi") }), "revealed: its current presence, though it did not change");
        });
    }

    [Test]
    public async Task NewlySharedRoom_EachSideReadsTheOthersCurrentPresence()
    {
        await using var h = await StartAsync();
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "alice here");
        h.Engine.SetPresence(Bob, "D1", PresenceState.Unavailable, "bob away");
        var aliceToken = (await h.Engine.GetChangesSinceAsync(Alice, PresenceStreamToken.None)).NextToken;
        var bobToken = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;

        await h.ShareRoomAsync("!new:example.org", Alice, Bob);

        var aliceSees = await h.Engine.GetChangesSinceAsync(Alice, aliceToken);
        var bobSees = await h.Engine.GetChangesSinceAsync(Bob, bobToken);
        Assert.That(aliceSees.Changes.Select(p => p.StatusMessage), Is.EqualTo(new[] { "bob away" }));
        Assert.That(bobSees.Changes.Select(p => p.StatusMessage), Is.EqualTo(new[] { "alice here" }));
    }

    [Test]
    public async Task StaleRemoteUser_ArrivesAsAnUnknownChange()
    {
        await using var h = await StartAsync();
        var sam = UserId.Parse("@sam:synapse.example");
        await h.ShareRoomAsync(Room, Bob, sam);
        await h.Engine.ReceiveAsync(sam.Server, new PresenceMessage(push: [new PresenceSnapshot(sam, PresenceState.Online, null, h.Now, true, DeviceKinds.None)]));
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;

        h.Advance(PresenceFederationOptions.DefaultRemoteStaleAfter);
        var answer = await h.Engine.GetChangesSinceAsync(Bob, token);

        Assert.That(answer.Changes.Select(p => (p.User, p.State)), Is.EqualTo(new[] { (sam, PresenceState.Unknown) }));
    }

    [Test]
    public async Task LongPoll_WokenByAVisibleChange_NotByAnInvisibleOne()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob);
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;

        var poll = h.Engine.WaitForChangesAsync(Bob, token, TimeSpan.FromSeconds(30)).AsTask();
        h.Engine.SetPresence(Eve, "D1", PresenceState.Online, "not for bob");
        h.Advance(TimeSpan.FromSeconds(5));
        await Task.Yield();
        Assert.That(poll.IsCompleted, Is.False, "an invisible change does not answer the poll");

        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "for bob");
        var answer = await poll;

        Assert.That(answer.Changes.Select(p => p.StatusMessage), Is.EqualTo(new[] { "for bob" }));
    }

    [Test]
    public async Task LongPoll_WithSomethingOwed_AnswersAtOnce()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob);
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "already");

        var answer = await h.Engine.WaitForChangesAsync(Bob, token, TimeSpan.FromSeconds(30));

        Assert.That(answer.Changes.Select(p => p.StatusMessage), Is.EqualTo(new[] { "already" }));
    }

    [Test]
    public async Task LongPoll_TimesOutOnTheEnginesClock_WithAnEmptyAnswer()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob);
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;

        var poll = h.Engine.WaitForChangesAsync(Bob, token, TimeSpan.FromSeconds(30)).AsTask();
        h.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromMilliseconds(1));
        await Task.Yield();
        Assert.That(poll.IsCompleted, Is.False);

        h.Advance(TimeSpan.FromMilliseconds(1));
        var answer = await poll;

        Assert.Multiple(() =>
        {
            Assert.That(answer.Changes, Is.Empty);
            Assert.That(answer.IsSnapshot, Is.False);
        });
    }

    [Test]
    public async Task LongPoll_Cancelled_Throws()
    {
        await using var h = await StartAsync();
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;
        using var cts = new CancellationTokenSource();

        var poll = h.Engine.WaitForChangesAsync(Bob, token, TimeSpan.FromSeconds(30), cancellationToken: cts.Token).AsTask();
        await cts.CancelAsync();

        Assert.That(async () => await poll, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task EngineDispose_CompletesWaitingLongPolls()
    {
        var h = await StartAsync();
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;
        var poll = h.Engine.WaitForChangesAsync(Bob, token, TimeSpan.FromSeconds(30)).AsTask();

        await h.DisposeAsync();
        var answer = await poll;

        Assert.That(answer.Changes, Is.Empty);
    }

    [Test]
    public async Task StreamReads_Refusals_CarryMatrixErrorCodes()
    {
        await using var h = await StartAsync();

        var foreign = await Assert.ThrowsAsync<PresenceException>(async () => await h.Engine.GetChangesSinceAsync(UserId.Parse("@x:remote.example"), default));
        var limit = await Assert.ThrowsAsync<PresenceException>(async () => await h.Engine.GetChangesSinceAsync(Bob, default, limit: 0));
        var timeout = await Assert.ThrowsAsync<PresenceException>(async () => await h.Engine.WaitForChangesAsync(Bob, default, TimeSpan.FromSeconds(-1)));

        Assert.Multiple(() =>
        {
            Assert.That(foreign!.ErrorCode, Is.EqualTo(PresenceErrorCodes.Forbidden));
            Assert.That(limit!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));
            Assert.That(timeout!.ErrorCode, Is.EqualTo(PresenceErrorCodes.InvalidParam));
        });
    }

    [Test]
    public async Task GarbledTokens_NeverThrow_AndGetASnapshot()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, null);
        string valid = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken.ToString();
        var random = new Random(9);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/!~";

        for (int i = 0; i < 300; i++)
        {
            var chars = valid.ToCharArray();
            if (i % 3 == 0)
            {
                chars = [.. Enumerable.Range(0, random.Next(1, 60)).Select(_ => alphabet[random.Next(alphabet.Length)])];
            }
            else
            {
                chars[random.Next(chars.Length)] = alphabet[random.Next(alphabet.Length)];
                if (i % 3 == 2)
                {
                    chars = chars[..random.Next(1, chars.Length)];
                }
            }

            string text = new(chars);
            var answer = await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.Parse(text));
            if (text != valid)
            {
                Assert.That(answer.IsSnapshot || answer.Changes.Count == 0, Is.True, $"token {text}");
            }
        }
    }

    [Test]
    public async Task WithinRetention_AnOldTokenGetsEveryChange_AsTheWindowGrows()
    {
        await using var h = await StartAsync(o => o.StreamRetention = 8192);
        var users = Enumerable.Range(0, 400).Select(i => User($"g{i}")).ToArray();
        await h.ShareRoomAsync(Room, [Bob, .. users]);
        var token = (await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None)).NextToken;
        for (int round = 0; round < 3; round++)
        {
            foreach (var user in users)
            {
                h.Engine.SetPresence(user, "D1", PresenceState.Online, $"round {round}"); // 1,200 positions: the rings grow from 64
            }
        }

        var answer = await h.Engine.GetChangesSinceAsync(Bob, token, limit: 10_000);

        Assert.Multiple(() =>
        {
            Assert.That(answer.IsSnapshot, Is.False);
            Assert.That(answer.Changes.Select(p => p.User), Is.EquivalentTo(users));
            Assert.That(answer.Changes.All(p => p.StatusMessage == "round 2"), Is.True);
        });
    }

    [Test]
    public async Task PresenceListEntryRemoved_WithoutASharedRoom_IsToldUnknownOnce()
    {
        await using var h = await StartAsync();
        await h.Engine.AddToPresenceListAsync(Bob, Carol);
        await h.Engine.AnswerPresenceRequestAsync(Carol, Bob, allow: true);
        h.Engine.SetPresence(Carol, "D1", PresenceState.Online, "listed");
        var start = await h.Engine.GetChangesSinceAsync(Bob, PresenceStreamToken.None);

        await h.Engine.RemoveFromPresenceListAsync(Bob, Carol);
        h.Engine.SetPresence(Carol, "D1", PresenceState.Online, "after");
        var answer = await h.Engine.GetChangesSinceAsync(Bob, start.NextToken);

        Assert.Multiple(() =>
        {
            Assert.That(start.Changes.Select(p => p.StatusMessage), Does.Contain("listed"), "an accepted entry shows the user");
            Assert.That(answer.Changes.Select(p => (p.User, p.State)), Is.EqualTo(new[] { (Carol, PresenceState.Unknown) }));
        });
    }

    [Test]
    public async Task Feed_OfAViewerWhoLostSight_GetsUnknownNotLaterChanges()
    {
        await using var h = await StartAsync();
        await h.ShareRoomAsync(Room, Alice, Bob);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "visible");
        await using var feed = await h.Engine.SubscribeAsync(Bob);
        feed.TryRead(out _);

        h.Rooms.Leave(Room, Alice);
        await h.Engine.UserLeftRoomAsync(Alice, Room);
        h.Engine.SetPresence(Alice, "D1", PresenceState.Online, "secret");
        h.Advance(TimeSpan.FromSeconds(10));

        Assert.That(feed.TryRead(out var batch), Is.True);
        Assert.That(batch.Select(p => (p.User, p.State, p.StatusMessage)), Is.EqualTo(new[] { (Alice, PresenceState.Unknown, (string?)null) }));
    }
}
