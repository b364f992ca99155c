using Presence.Core.Tests.Core;
using static Presence.Core.Tests.Interest.MaySeeScenario;

namespace Presence.Core.Tests.Interest;

/// <summary>How <see cref="MaySeeDriver"/> reads and what it checks beyond "may see" for reads and "only when" for the feed.</summary>
/// <param name="ReadEveryPairAfterEveryStep">
/// Whether every ordered pair is read after every step. Reads fill the engine's room cache; when false they happen only at
/// <see cref="MaySeeScenario.ReadAll"/> steps and after the last step, so joins, leaves and deliveries also meet a cache
/// that knows little.
/// </param>
/// <param name="WideningAnnouncesPresence">
/// Whether a user who widens their visibility is announced on the feeds that newly may see them, as joining a room and
/// an allowed request are (checked after every other step that makes someone newly visible).
/// </param>
/// <param name="Eviction">
/// Whether idle users leave memory after the default ten minutes (<see cref="PresenceOptions.EvictAfter"/>); otherwise after
/// a year, which no scenario reaches. Off until <see cref="EvictionWhileSavingTests"/> is fixed: an eviction racing the
/// write-behind loses what was being saved, now and then, depending on thread timing.
/// </param>
internal sealed record MaySeeRules(bool ReadEveryPairAfterEveryStep = true, bool WideningAnnouncesPresence = false, bool Eviction = false);

/// <summary>How often each check had something to check: shows the properties are not vacuous.</summary>
internal sealed class MaySeeCoverage
{
    private readonly Lock _gate = new();

    public long Steps;
    public long AllowedByRoom;
    public long AllowedByList;
    public long AllowedByBoth;
    public long Denied;
    public long DeniedDespiteRoom;
    public long Delivered;
    public long Retractions;
    public long StatusDeliveriesRequired;
    public long FirstBatchEntriesRequired;
    public long NewlyVisibleRequired;
    public long Restarts;

    public void Add(MaySeeCoverage run)
    {
        lock (_gate)
        {
            Steps += run.Steps;
            AllowedByRoom += run.AllowedByRoom;
            AllowedByList += run.AllowedByList;
            AllowedByBoth += run.AllowedByBoth;
            Denied += run.Denied;
            DeniedDespiteRoom += run.DeniedDespiteRoom;
            Delivered += run.Delivered;
            Retractions += run.Retractions;
            StatusDeliveriesRequired += run.StatusDeliveriesRequired;
            FirstBatchEntriesRequired += run.FirstBatchEntriesRequired;
            NewlyVisibleRequired += run.NewlyVisibleRequired;
            Restarts += run.Restarts;
        }
    }

    public override string ToString()
        => $"{Steps} steps; reads of another user allowed by a room {AllowedByRoom}, by the list {AllowedByList}, by both {AllowedByBoth}; "
            + $"denied {Denied} ({DeniedDespiteRoom} while sharing a room); feed: {Delivered} changes of others checked, {Retractions} retractions, "
            + $"{StatusDeliveriesRequired} status changes required, {FirstBatchEntriesRequired} first-batch entries required, {NewlyVisibleRequired} newly visible required; {Restarts} restarts";
}

/// <summary>
/// Plays a <see cref="MaySeeScenario"/> into a real engine (in-memory view, store and list store, a fake clock,
/// <see cref="PresenceOptions.ClientBatchWindow"/> zero so the feed delivers at once) and into a reference model of DESIGN's
/// rule ("Who sees whom — rooms and lists"). After every step (or only at <see cref="MaySeeScenario.ReadAll"/> steps,
/// see <see cref="MaySeeRules"/>) it reads every ordered pair of users and compares
/// <see cref="PresenceReadResult.IsAllowed"/> with the rule. After every step it checks each presence-list and
/// pending-request listing and the viewer's feed: a known presence of another user arrives only when the rule lets the
/// viewer see them, an "unknown" (a retraction) only when it does not; a status change of a visible user arrives; a user
/// who becomes visible by a join or an allowed request arrives with their presence; a re-opened feed's first batch holds
/// every visible user with a presence. The first difference throws <see cref="ModelMismatchException"/>.
/// </summary>
internal sealed class MaySeeDriver : IAsyncDisposable
{
    private readonly MaySeeRules _rules;
    private readonly FakeTimeProvider _clock = new(EngineHarness.Start);
    private readonly InMemoryMembershipView _view = new();
    private readonly InMemoryPresenceStore _store = new();
    private readonly InMemoryPresenceListStore _listStore = new();

    // The model: who is in which room, each local user's visibility, every presence-list relation (observer, observed).
    private readonly HashSet<int>[] _members = [.. Rooms.Select(static _ => new HashSet<int>())];
    private readonly PresenceVisibility[] _visibility = new PresenceVisibility[LocalUsers];
    private readonly Dictionary<(int Observer, int Observed), PresenceListState> _relations = [];

    /// <summary>Each local user's status message as last set (the model's; it outlives restarts and eviction).</summary>
    private readonly string?[] _status = new string?[LocalUsers];

    /// <summary>Each user's own read after the step (a read of oneself needs no room lookup: it leaves the cache alone).</summary>
    private readonly PresenceSnapshot?[] _self = new PresenceSnapshot?[Users.Length];
    private readonly bool[] _couldSee = new bool[Users.Length];

    private IPresenceEngine _engine = null!;
    private IPresenceSubscription _feed = null!;
    private IReadOnlyList<PresenceSnapshot>? _firstBatch;
    private (int User, PresenceSnapshot Result)? _set;

    private readonly MaySeeCoverage _coverage = new();

    private MaySeeDriver(MaySeeRules rules) => _rules = rules;

    /// <summary>Plays the scenario; throws <see cref="ModelMismatchException"/> at the first difference.</summary>
    public static async Task RunAsync(MaySeeScenario scenario, MaySeeRules rules, MaySeeCoverage? coverage = null)
    {
        await using var driver = new MaySeeDriver(rules);
        await driver.StartEngineAsync();
        for (int i = 0; i < Users.Length; i++)
        {
            driver._couldSee[i] = driver.MaySee(Viewer, i);
        }

        for (int step = 0; step < scenario.Ops.Length; step++)
        {
            try
            {
                await driver.PlayAsync(scenario.Ops[step]);
                bool readPairs = rules.ReadEveryPairAfterEveryStep || scenario.Ops[step] is ReadAll || step == scenario.Ops.Length - 1;
                await driver.VerifyAsync(scenario.Ops[step], readPairs);
            }
            catch (ModelMismatchException e)
            {
                throw new ModelMismatchException($"After step {step} ({scenario.Ops[step]}): {e.Message}");
            }
        }

        coverage?.Add(driver._coverage);
    }

    /// <summary>Gets the first difference the scenario shows, or null.</summary>
    public static async Task<string?> FailureOfAsync(MaySeeScenario scenario, MaySeeRules rules)
    {
        try
        {
            await RunAsync(scenario, rules);
            return null;
        }
        catch (ModelMismatchException e)
        {
            return e.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_feed is not null)
        {
            await _feed.DisposeAsync();
        }

        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }
    }

    // ----- the rule -----

    private bool SharesRoom(int a, int b)
        => Enumerable.Range(0, Rooms.Length).Any(r => Rooms[r] != Excluded && _members[r].Contains(a) && _members[r].Contains(b));

    private bool Allowed(int observer, int observed)
        => _relations.TryGetValue((observer, observed), out var state) && state == PresenceListState.Allowed;

    /// <summary>DESIGN: themselves always; otherwise by the target's visibility (a remote target's server applied its own).</summary>
    private bool MaySee(int viewer, int target)
    {
        if (viewer == target)
        {
            return true;
        }

        var visibility = target < LocalUsers ? _visibility[target] : PresenceVisibility.RoomMembers;
        return visibility switch
        {
            PresenceVisibility.RoomMembers => SharesRoom(viewer, target) || Allowed(viewer, target),
            PresenceVisibility.PresenceListOnly => Allowed(viewer, target),
            _ => false,
        };
    }

    // ----- playing -----

    private async Task StartEngineAsync()
    {
        var options = new PresenceOptions { ServerName = EngineHarness.Server, ClientBatchWindow = TimeSpan.Zero };
        if (!_rules.Eviction)
        {
            options.EvictAfter = TimeSpan.FromDays(365);
        }

        options.ExcludedRooms.Add(Excluded);
        _engine = PresenceEngine.Create(options, _view, _store, _clock, listStore: _listStore);
        await _engine.StartAsync();
        await OpenFeedAsync();
    }

    private async Task OpenFeedAsync()
    {
        _feed = await _engine.SubscribeAsync(Users[Viewer]);
        Expect(_feed.TryRead(out var first), "a new feed has no first batch");
        _firstBatch = first;
    }

    private async Task PlayAsync(Op op)
    {
        _firstBatch = null;
        _set = null;
        switch (op)
        {
            case Join(var u, var r):
                _view.Join(Rooms[r], Users[u]);
                _members[r].Add(u);
                await _engine.UserJoinedRoomAsync(Users[u], Rooms[r]);
                break;
            case Leave(var u, var r):
                _view.Leave(Rooms[r], Users[u]);
                _members[r].Remove(u);
                await _engine.UserLeftRoomAsync(Users[u], Rooms[r]);
                break;
            case SetVisibility(var u, var visibility):
                _visibility[u] = visibility;
                _engine.SetVisibility(Users[u], visibility);
                break;
            case ListAdd(var owner, var target):
            {
                var expected = _relations.TryGetValue((owner, target), out var existing) ? existing : PresenceListState.Pending;
                _relations[(owner, target)] = expected;
                var entry = await _engine.AddToPresenceListAsync(Users[owner], Users[target]);
                Expect(entry.State == expected, $"AddToPresenceList returned {entry.State}, expected {expected}");
                break;
            }

            case ListAnswer(var target, var observer, var allow):
            {
                bool asked = _relations.ContainsKey((observer, target));
                if (asked)
                {
                    _relations[(observer, target)] = allow ? PresenceListState.Allowed : PresenceListState.Denied;
                }

                try
                {
                    await _engine.AnswerPresenceRequestAsync(Users[target], Users[observer], allow);
                    Expect(asked, "answering a request that was never made did not throw");
                }
                catch (PresenceException e) when (!asked && e.ErrorCode == PresenceErrorCodes.NotFound)
                {
                    // Expected: there is no request to answer.
                }

                break;
            }

            case ListRemove(var owner, var target):
                _relations.Remove((owner, target));
                await _engine.RemoveFromPresenceListAsync(Users[owner], Users[target]);
                break;
            case SetPresence(var u, var device, var state, var status):
                _set = (u, _engine.SetPresence(Users[u], device, state, status));
                bool changed = !string.Equals(_status[u], status, StringComparison.Ordinal);
                _status[u] = status;
                if (!changed)
                {
                    _set = null;
                }

                break;
            case Heartbeat(var u, var device):
                _engine.Heartbeat(Users[u], device);
                break;
            case Advance(var by):
                _clock.Advance(TimeSpan.FromTicks(by));
                break;
            case Resubscribe:
                await _feed.DisposeAsync();
                await OpenFeedAsync();
                break;
            case ReadAll:
                break;
            case Restart:
                _coverage.Restarts++;
                await _feed.DisposeAsync();
                await _engine.DisposeAsync();
                await StartEngineAsync();
                break;
            default:
                throw new InvalidOperationException($"Unknown step {op}.");
        }
    }

    // ----- checking -----

    private async Task VerifyAsync(Op op, bool readPairs)
    {
        for (int t = 0; t < Users.Length; t++)
        {
            var own = await _engine.GetPresenceAsync(Users[t], Users[t]);
            Expect(own.IsAllowed, $"{Users[t]} may not read their own presence");
            _self[t] = own.Presence;
            if (t < LocalUsers)
            {
                Expect(string.Equals(own.Presence.StatusMessage, _status[t], StringComparison.Ordinal), $"{Users[t]}'s status reads {Show(own.Presence.StatusMessage)}, last set {Show(_status[t])}");
            }
        }

        for (int v = 0; v < Users.Length && readPairs; v++)
        {
            for (int t = 0; t < Users.Length; t++)
            {
                if (v == t)
                {
                    continue;
                }

                var read = await _engine.GetPresenceAsync(Users[v], Users[t]);
                bool expected = MaySee(v, t);
                Expect(read.IsAllowed == expected, $"GetPresenceAsync(viewer {Users[v]}, target {Users[t]}).IsAllowed = {read.IsAllowed}, the rule says {expected} ({Explain(v, t)})");
                bool room = SharesRoom(v, t);
                bool list = Allowed(v, t);
                if (!expected)
                {
                    _coverage.Denied++;
                    _coverage.DeniedDespiteRoom += room ? 1 : 0;
                }
                else if (room && list)
                {
                    _coverage.AllowedByBoth++;
                }
                else if (room)
                {
                    _coverage.AllowedByRoom++;
                }
                else
                {
                    _coverage.AllowedByList++;
                }
            }
        }

        VerifyLists();

        // The feed: everything delivered in this step, latest per user.
        var delivered = new Dictionary<UserId, PresenceSnapshot>();
        foreach (var snapshot in _firstBatch ?? [])
        {
            delivered[snapshot.User] = snapshot;
        }

        while (_feed.TryRead(out var batch))
        {
            foreach (var snapshot in batch)
            {
                CheckDelivered(snapshot);
                delivered[snapshot.User] = snapshot;
            }
        }

        foreach (var snapshot in _firstBatch ?? [])
        {
            CheckDelivered(snapshot);
        }

        if (_firstBatch is not null)
        {
            // The first batch: the current presence of everyone visible who has any.
            for (int t = 0; t < LocalUsers; t++)
            {
                if (t != Viewer && MaySee(Viewer, t) && _self[t] is { IsUnknown: false })
                {
                    _coverage.FirstBatchEntriesRequired++;
                    Expect(_firstBatch.Any(s => s.User == Users[t] && !s.IsUnknown), $"the feed's first batch lacks {Users[t]}, whom {Users[Viewer]} may see ({Explain(Viewer, t)}) and who is {_self[t]!.State}");
                }
            }
        }

        if (_set is var (user, result) && MaySee(Viewer, user))
        {
            _coverage.StatusDeliveriesRequired++;
            Expect(
                delivered.TryGetValue(Users[user], out var got) && string.Equals(got.StatusMessage, result.StatusMessage, StringComparison.Ordinal),
                $"{Users[user]}'s status changed to {Show(result.StatusMessage)} and {Users[Viewer]} may see them ({Explain(Viewer, user)}), but the feed got {(got is null ? "nothing" : $"{got.State} {Show(got.StatusMessage)}")}");
        }

        if (op is not (Resubscribe or Restart) && (op is not SetVisibility || _rules.WideningAnnouncesPresence))
        {
            for (int t = 0; t < LocalUsers; t++)
            {
                if (t != Viewer && !_couldSee[t] && MaySee(Viewer, t) && _self[t] is { IsUnknown: false } now)
                {
                    _coverage.NewlyVisibleRequired++;
                    Expect(
                        delivered.TryGetValue(Users[t], out var got) && !got.IsUnknown,
                        $"{Users[Viewer]} may now see {Users[t]} ({Explain(Viewer, t)}), who is {now.State}, but the feed got {(got is null ? "nothing" : got.State.ToString())}");
                }
            }
        }

        _coverage.Steps++;
        for (int t = 0; t < Users.Length; t++)
        {
            _couldSee[t] = MaySee(Viewer, t);
        }
    }

    /// <summary>A change of another user reaches the feed only when the viewer may see them; "unknown" only when not.</summary>
    private void CheckDelivered(PresenceSnapshot snapshot)
    {
        int t = Array.IndexOf(Users, snapshot.User);
        Expect(t >= 0, $"the feed got {snapshot.User}, not one of the users");
        if (t == Viewer)
        {
            return;
        }

        _coverage.Delivered++;
        if (snapshot.IsUnknown)
        {
            _coverage.Retractions++;
        }

        if (!snapshot.IsUnknown)
        {
            Expect(MaySee(Viewer, t), $"the feed of {Users[Viewer]} got {snapshot.User} ({snapshot.State} {Show(snapshot.StatusMessage)}), whom the rule hides ({Explain(Viewer, t)})");
        }
        else
        {
            Expect(!MaySee(Viewer, t) || _self[t] is { IsUnknown: true }, $"the feed of {Users[Viewer]} got {snapshot.User} as unknown though they may see them ({Explain(Viewer, t)}) and they are {_self[t]?.State}");
        }
    }

    /// <summary>Every local user's presence list and pending requests, as the model has them.</summary>
    private void VerifyLists()
    {
        for (int owner = 0; owner < LocalUsers; owner++)
        {
            var expected = _relations.Where(p => p.Key.Observer == owner).ToDictionary(p => Users[p.Key.Observed], p => p.Value);
            var items = _engine.GetPresenceList(Users[owner]);
            Expect(
                items.Count == expected.Count && items.All(i => expected.TryGetValue(i.Entry.Observed, out var s) && s == i.Entry.State),
                $"GetPresenceList({Users[owner]}) = [{string.Join(", ", items.Select(static i => $"{i.Entry.Observed} {i.Entry.State}"))}], expected [{string.Join(", ", expected.Select(static p => $"{p.Key} {p.Value}"))}]");
            foreach (var item in items)
            {
                int target = Array.IndexOf(Users, item.Entry.Observed);
                bool shows = item.Entry.State == PresenceListState.Allowed && MaySee(owner, target);
                Expect(shows || item.Presence.IsUnknown, $"GetPresenceList({Users[owner]}) shows {item.Entry.Observed} as {item.Presence.State} though {item.Entry.State} and {Explain(owner, target)}");
            }

            var pending = _relations.Where(p => p.Key.Observed == owner && p.Value == PresenceListState.Pending).Select(p => Users[p.Key.Observer]).ToHashSet();
            var requests = _engine.GetPendingRequests(Users[owner]);
            Expect(
                requests.Count == pending.Count && requests.All(r => pending.Contains(r.Observer)),
                $"GetPendingRequests({Users[owner]}) = [{string.Join(", ", requests.Select(static r => r.Observer))}], expected [{string.Join(", ", pending)}]");
        }
    }

    private string Explain(int viewer, int target)
    {
        if (viewer == target)
        {
            return "themselves";
        }

        var visibility = target < LocalUsers ? _visibility[target] : PresenceVisibility.RoomMembers;
        string list = _relations.TryGetValue((viewer, target), out var state) ? $"list entry {state}" : "no list entry";
        return $"target visibility {visibility}, {(SharesRoom(viewer, target) ? "sharing a room" : "no shared room")}, {list}";
    }

    private static string Show(string? status) => status is null ? "no status" : $"\"{status}\"";

    private static void Expect(bool condition, string message)
    {
        if (!condition)
        {
            throw new ModelMismatchException(message);
        }
    }
}
