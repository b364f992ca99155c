using Microsoft.Extensions.Logging.Abstractions;
using Presence.Internal;

namespace Presence.Core.Tests.Internal;

[CancelAfter(10_000)]
public sealed class OutboundSchedulerTests
{
    private static readonly ServerName Origin = ServerName.Parse("a.example");
    private static readonly ServerName Dest = ServerName.Parse("b.example");
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private static UserId User(int i) => UserId.Parse($"@u{i}:a.example");

    private static PresenceSnapshot State(UserId user, string? status = null) => new(user, PresenceState.Online, status, null, false, DeviceKinds.Standard);

    private sealed class Fixture : IDisposable
    {
        public FakeTimeProvider Clock => Timers.Clock;

        /// <summary>Gets the clock as the scheduler sees it: <see cref="Clock"/>, tracking its timers.</summary>
        public TimerTrackingTimeProvider Timers { get; } = new(new FakeTimeProvider(EngineHarness.Start));

        public RecordingTransport Transport { get; } = new();

        public EngineMetrics Metrics { get; } = new();

        public List<ServerName> GaveUp { get; } = [];

        public OutboundScheduler Scheduler { get; }

        public Fixture(Action<PresenceFederationOptions>? configure = null)
        {
            var options = new PresenceFederationOptions();
            configure?.Invoke(options);
            var instruments = new PresenceInstruments(Metrics.MeterFactory, () => 0, () => 0, () => 0, () => 0, () => 0);
            Scheduler = new OutboundScheduler(Origin, options, Transport, Timers, new TimeBase(Timers), NullLogger.Instance, instruments, GaveUp.Add, CancellationToken.None);
        }

        public void Enqueue(ServerName destination, params PresenceSnapshot[] snapshots)
        {
            foreach (var s in snapshots)
            {
                Scheduler.Enqueue(destination, s);
            }

            Scheduler.Pump();
        }

        public void Dispose() => Metrics.Dispose();
    }

    internal sealed class RecordingTransport : IPresenceTransport
    {
        private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];

        public List<(DateTimeOffset At, ServerName To, PresenceMessage Message)> Sent { get; } = [];

        public Func<ServerName, bool> Fail { get; set; } = _ => false;

        public FakeTimeProvider? Clock { get; set; }

        /// <summary>Completes once <paramref name="count"/> messages have been handed over (the scheduler may start a send on the thread pool).</summary>
        public Task WhenSentAsync(int count)
        {
            lock (Sent)
            {
                if (Sent.Count >= count)
                {
                    return Task.CompletedTask;
                }

                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, reached));
                return reached.Task;
            }
        }

        /// <summary>When set, each send completes only when the test completes the task it hands out.</summary>
        public Queue<TaskCompletionSource>? Pending { get; set; }

        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
        {
            if (Fail(destination))
            {
                throw new InvalidOperationException("unreachable");
            }

            lock (Sent)
            {
                Sent.Add((Clock?.GetUtcNow() ?? default, destination, message));
                _waiters.RemoveAll(waiter => Sent.Count >= waiter.Count && waiter.Reached.TrySetResult());
            }

            if (Pending is null)
            {
                return ValueTask.CompletedTask;
            }

            var completion = new TaskCompletionSource();
            Pending.Enqueue(completion);
            cancellationToken.Register(() => completion.TrySetCanceled(cancellationToken)); // as a transport honouring its token does
            return new ValueTask(completion.Task);
        }
    }

    [Test]
    public void Changes_AreCoalescedLatestPerUserInFirstQueuedOrder_OneMessagePerWindow()
    {
        using var f = new Fixture();
        f.Enqueue(Dest, State(User(1), "v1"), State(User(2)), State(User(1), "v2"));

        f.Clock.Advance(Window);

        Assert.That(f.Transport.Sent, Has.Count.EqualTo(1));
        var push = f.Transport.Sent[0].Message.Push;
        Assert.That(push.Select(p => p.User), Is.EqualTo(new[] { User(1), User(2) }));
        Assert.That(push[0].StatusMessage, Is.EqualTo("v2"));
        Assert.That(f.Scheduler.QueuedEntries, Is.Zero);
    }

    [Test]
    public void Destination_IsFlushedAtMostOncePerWindow()
    {
        using var f = new Fixture();
        f.Transport.Clock = f.Clock;
        f.Enqueue(Dest, State(User(1)));
        f.Timers.AdvanceTimerByTimer(Window); // the first flush happens on its slot
        var first = f.Transport.Sent.Single().At;

        f.Enqueue(Dest, State(User(2)));
        f.Clock.Advance(Window - TimeSpan.FromMilliseconds(1) - (f.Clock.GetUtcNow() - first));
        int beforeWindow = f.Transport.Sent.Count;
        f.Clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.That(beforeWindow, Is.EqualTo(1), "no second message within a window of the first");
        Assert.That(f.Transport.Sent, Has.Count.EqualTo(2));
        Assert.That(f.Transport.Sent[1].At - first, Is.EqualTo(Window));
    }

    [Test]
    public void LargeBatch_IsSplitByMaxEntriesPerMessage()
    {
        using var f = new Fixture(o => o.MaxEntriesPerMessage = 500);
        f.Enqueue(Dest, [.. Enumerable.Range(0, 1200).Select(i => State(User(i)))]);

        f.Clock.Advance(Window);

        Assert.That(f.Transport.Sent.Select(s => s.Message.Push.Count), Is.EqualTo(new[] { 500, 500, 200 }));
        Assert.That(f.Transport.Sent.SelectMany(s => s.Message.Push).Select(p => p.User), Is.EqualTo(Enumerable.Range(0, 1200).Select(User)));
        Assert.That(f.Metrics.Total(PresenceMetrics.OutboundMessages), Is.EqualTo(3));
    }

    [Test]
    public void ManyDestinations_SendsAreSpreadAcrossTheWindow()
    {
        using var f = new Fixture();
        f.Transport.Clock = f.Clock;
        var start = f.Clock.GetUtcNow();
        for (int d = 0; d < 1000; d++)
        {
            f.Scheduler.Enqueue(ServerName.Parse($"s{d}.example"), State(User(1)));
        }

        f.Scheduler.Pump();
        f.Timers.AdvanceTimerByTimer(Window); // each flush happens on its destination's slot

        Assert.That(f.Transport.Sent, Has.Count.EqualTo(1000), "one message per destination with changes");
        var perSecond = f.Transport.Sent.GroupBy(s => (int)(s.At - start).TotalSeconds).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(perSecond.Keys, Is.EquivalentTo(new[] { 5, 6, 7, 8, 9 }), "every second of the window's second half carries sends (the first half leaves the host's transactions time to take them)");
        Assert.That(perSecond.Values.Max(), Is.LessThan(320), "no burst: at most about 1.5 times the even share of 200");
    }

    [Test]
    public void FailedSend_IsRetriedWithExponentialBackoffAndJitter_ThenTheLatestStateArrives()
    {
        using var f = new Fixture();
        f.Transport.Clock = f.Clock;
        int failures = 0;
        var failedAt = new List<DateTimeOffset>();
        f.Transport.Fail = _ =>
        {
            if (failures < 3)
            {
                failures++;
                failedAt.Add(f.Clock.GetUtcNow());
                return true;
            }

            return false;
        };
        f.Enqueue(Dest, State(User(1), "v1"));
        while (failedAt.Count == 0)
        {
            f.Clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        f.Enqueue(Dest, State(User(1), "v2"), State(User(2))); // newer states arrive while the peer is failing

        f.Timers.AdvanceTimerByTimer(TimeSpan.FromSeconds(30)); // each retry happens when it is due

        Assert.That(failedAt, Has.Count.EqualTo(3));
        var gaps = failedAt.Zip(failedAt.Skip(1), (a, b) => b - a).ToList();
        Assert.That(gaps[0], Is.InRange(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.2)));
        Assert.That(gaps[1], Is.InRange(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2.4)));
        var delivered = f.Transport.Sent.Single();
        Assert.That(delivered.At - failedAt[2], Is.InRange(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(4.8)));
        Assert.That(delivered.Message.Push.Select(p => (p.User, p.StatusMessage)), Is.EqualTo(new[] { (User(1), (string?)"v2"), (User(2), (string?)null) }));
        Assert.That(f.Metrics.Total(PresenceMetrics.OutboundFailures), Is.EqualTo(3));
    }

    [Test]
    public void DeadPeerForHours_KeepsOneEntryPerUser_ThenDropsAtTheHorizon()
    {
        using var f = new Fixture(o => o.FailureHorizon = TimeSpan.FromHours(3));
        f.Transport.Fail = _ => true;
        int maxQueued = 0;
        for (int minute = 0; minute < 170; minute++)
        {
            for (int u = 0; u < 10; u++)
            {
                f.Scheduler.Enqueue(Dest, State(User(u), $"minute {minute}"));
            }

            f.Scheduler.Pump();
            maxQueued = Math.Max(maxQueued, f.Scheduler.QueuedEntries);
            f.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.That(maxQueued, Is.EqualTo(10), "memory is bounded by one entry per user per destination");
        Assert.That(f.GaveUp, Is.Empty);

        f.Clock.Advance(TimeSpan.FromMinutes(20));

        Assert.That(f.GaveUp, Is.EqualTo(new[] { Dest }));
        Assert.That(f.Scheduler.QueuedEntries, Is.Zero);
        Assert.That(f.Metrics.Total(PresenceMetrics.OutboundDropped), Is.EqualTo(10));
    }

    [Test]
    public void PeerBackAfterAnOutage_ReceivesOnlyTheFinalState()
    {
        using var f = new Fixture();
        bool down = true;
        f.Transport.Fail = _ => down;
        for (int i = 0; i < 20; i++)
        {
            f.Enqueue(Dest, State(User(1), $"v{i}"));
            f.Clock.Advance(TimeSpan.FromSeconds(30));
        }

        down = false;
        f.Clock.Advance(TimeSpan.FromMinutes(6));

        var delivered = f.Transport.Sent.Single();
        Assert.That(delivered.Message.Push.Single().StatusMessage, Is.EqualTo("v19"));
    }

    [Test]
    public void SendNow_GoesAtOnceWithPollsAndTheReminderMarker()
    {
        using var f = new Fixture();
        var watched = UserId.Parse("@bob:b.example");

        f.Scheduler.SendNow(Dest, [State(User(1))], [watched], [], reminder: true);

        var message = f.Transport.Sent.Single().Message;
        Assert.That(message.IsReminder, Is.True);
        Assert.That(message.Poll, Is.EqualTo(new[] { watched }));
        Assert.That(message.Push.Single().User, Is.EqualTo(User(1)));
    }

    [Test]
    public void PollThenUnpollBeforeTheSend_CancelOut()
    {
        using var f = new Fixture();
        f.Transport.Fail = _ => true;
        var bob = UserId.Parse("@bob:b.example");
        f.Scheduler.SendNow(Dest, [], [bob], [], reminder: false);
        f.Transport.Fail = _ => false;

        f.Scheduler.SendNow(Dest, [State(User(1))], [], [bob], reminder: false);
        f.Clock.Advance(TimeSpan.FromSeconds(2));

        var retried = f.Transport.Sent.Single().Message;
        Assert.That(retried.Push.Single().User, Is.EqualTo(User(1)), "the retry went out");
        Assert.That(retried.Poll, Is.Empty);
        Assert.That(retried.Unpoll, Is.Empty);
    }

    [Test]
    public async Task SendNow_WhileASendIsInFlight_GoesAsSoonAsItCompletes()
    {
        using var f = new Fixture();
        f.Transport.Clock = f.Clock;
        f.Transport.Pending = new Queue<TaskCompletionSource>();
        f.Enqueue(Dest, State(User(1)));
        f.Clock.Advance(Window);
        Assert.That(f.Transport.Sent, Has.Count.EqualTo(1), "the batch is in flight");

        f.Scheduler.SendNow(Dest, [State(User(2), "answer")], [], [], reminder: false);
        Assert.That(f.Transport.Sent, Has.Count.EqualTo(1), "one send in flight per destination");
        f.Transport.Pending.Dequeue().SetResult();
        await f.Transport.WhenSentAsync(2).WaitAsync(TestContext.CurrentContext.CancellationToken); // the next send may start on the thread pool

        Assert.That(f.Transport.Sent[1].At, Is.EqualTo(f.Clock.GetUtcNow()), "the answer follows as soon as the send in flight completes, not at the next slot");
        Assert.That(f.Transport.Sent[1].Message.Push.Single().StatusMessage, Is.EqualTo("answer"));
    }

    [Test]
    public async Task SendThatNeverCompletes_TimesOutAndIsRetried()
    {
        using var f = new Fixture(o => o.SendTimeout = TimeSpan.FromSeconds(5));
        f.Transport.Clock = f.Clock;
        f.Transport.Pending = new Queue<TaskCompletionSource>();
        f.Enqueue(Dest, State(User(1), "v1"));
        f.Clock.Advance(Window);
        f.Transport.Pending = null; // the peer recovers; the hung send is never answered

        f.Clock.Advance(TimeSpan.FromSeconds(5));
        await f.Scheduler.WhenNoneInFlightAsync().WaitAsync(TestContext.CurrentContext.CancellationToken); // the cancelled send ends on the thread pool
        Assert.That(f.Metrics.Total(PresenceMetrics.OutboundFailures), Is.EqualTo(1), "the hung send timed out and failed");
        f.Clock.Advance(TimeSpan.FromSeconds(2));

        Assert.That(f.Transport.Sent, Has.Count.EqualTo(2));
        Assert.That(f.Transport.Sent[1].Message.Push.Single().StatusMessage, Is.EqualTo("v1"));
        Assert.That(f.Metrics.Total(PresenceMetrics.OutboundFailures), Is.EqualTo(1));
    }

    [Test]
    public void OlderStateArrivingLate_NeverReplacesANewerOne()
    {
        using var f = new Fixture();
        var newer = new PresenceSnapshot(User(1), PresenceState.Online, "newer", null, false, DeviceKinds.None) { Sequence = 2 };
        var older = new PresenceSnapshot(User(1), PresenceState.Offline, "older", null, false, DeviceKinds.None) { Sequence = 1 };
        f.Enqueue(Dest, newer);

        f.Enqueue(Dest, older);
        f.Clock.Advance(Window);

        Assert.That(f.Transport.Sent.Single().Message.Push.Single().StatusMessage, Is.EqualTo("newer"));
    }

    [Test]
    public void Reminder_StatesThePromiseLifetime()
    {
        using var f = new Fixture(o => o.DefaultPromiseLifetime = TimeSpan.FromHours(3));

        f.Scheduler.SendNow(Dest, [], [], [], reminder: true);

        Assert.That(f.Transport.Sent.Single().Message.PromiseLifetime, Is.EqualTo(TimeSpan.FromHours(3)));
    }
}
