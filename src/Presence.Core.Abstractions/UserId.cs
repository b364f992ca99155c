using System.Diagnostics.CodeAnalysis;

namespace Presence;

/// <summary>
/// A Matrix user ID, <c>@localpart:server_name</c>. Parsed once and validated by the specification's
/// grammar: at most 255 characters, a non-empty localpart and a valid <see cref="ServerName"/>.
/// Localparts in the historical, wider character set (any printable ASCII except <c>:</c>) are
/// accepted on input, as the specification requires; <see cref="IsHistorical"/> tells them apart.
/// Compared ordinally.
/// </summary>
/// <remarks>The default value is empty (<see cref="IsEmpty"/>) and is not a valid user ID. It converts from text through its <see cref="System.ComponentModel.TypeConverter"/>, so configuration binding reads it from a string; a bad value fails with the reason.</remarks>
[System.ComponentModel.TypeConverter(typeof(Internal.UserIdConverter))]
public readonly struct UserId : IEquatable<UserId>, IComparable<UserId>
{
    /// <summary>The longest user ID accepted, in characters, sigil and server name included.</summary>
    public const int MaxLength = 255;

    private readonly string? _value;

    private UserId(string value) => _value = value;

    /// <summary>Gets the full user ID as text, or an empty string for the default value.</summary>
    public string Value => _value ?? string.Empty;

    /// <summary>Gets a value indicating whether this is the default (unset, invalid) value.</summary>
    public bool IsEmpty => _value is null;

    /// <summary>Gets the localpart, between the <c>@</c> sigil and the first <c>:</c>.</summary>
    public string Localpart => _value is null ? string.Empty : _value[1.._value.IndexOf(':', StringComparison.Ordinal)];

    /// <summary>Gets the server the user belongs to.</summary>
    public ServerName Server => _value is null ? default : ServerName.FromValidated(_value[(_value.IndexOf(':', StringComparison.Ordinal) + 1)..]);

    /// <summary>
    /// Gets a value indicating whether the localpart uses characters outside today's grammar
    /// (<c>a-z 0-9 . _ = - / +</c>), as user IDs created under older versions of the specification may.
    /// </summary>
    public bool IsHistorical
    {
        get
        {
            if (_value is null)
            {
                return false;
            }

            foreach (char c in LocalpartSpan(_value))
            {
                if (!IsCurrentLocalpartChar(c))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Tells whether this user belongs to <paramref name="server"/>, without allocating.</summary>
    /// <param name="server">The server to compare with.</param>
    /// <returns><see langword="true"/> when the user's server name is <paramref name="server"/>.</returns>
    public bool IsOn(ServerName server)
        => _value is not null && !server.IsEmpty && ServerSpan(_value).SequenceEqual(server.Value.AsSpan());

    /// <summary>Parses a user ID.</summary>
    /// <param name="value">The text to parse.</param>
    /// <returns>The parsed user ID.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="FormatException"><paramref name="value"/> is not a valid user ID; the message says why.</exception>
    public static UserId Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, out var result, out var error) ? result : throw new FormatException(error);
    }

    /// <summary>Tries to parse a user ID.</summary>
    /// <param name="value">The text to parse.</param>
    /// <param name="result">The parsed user ID when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is a valid user ID.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, out UserId result) => TryParse(value, out result, out _);

    /// <summary>Tries to parse a user ID and says what is wrong when it is not valid.</summary>
    /// <param name="value">The text to parse.</param>
    /// <param name="result">The parsed user ID when the method returns <see langword="true"/>.</param>
    /// <param name="error">Why <paramref name="value"/> is not valid when the method returns <see langword="false"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is a valid user ID.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, out UserId result, [NotNullWhen(false)] out string? error)
    {
        result = default;
        if (value is null)
        {
            error = "A user ID is required; the value was null.";
            return false;
        }

        error = Validate(value);
        if (error is not null)
        {
            return false;
        }

        result = new UserId(value);
        return true;
    }

    /// <summary>Creates a user ID from a localpart and a server name.</summary>
    /// <param name="localpart">The localpart, without the <c>@</c> sigil.</param>
    /// <param name="server">The user's server.</param>
    /// <returns>The user ID <c>@localpart:server</c>.</returns>
    /// <exception cref="ArgumentException">The parts do not make a valid user ID; the message says why.</exception>
    public static UserId Create(string localpart, ServerName server)
    {
        ArgumentNullException.ThrowIfNull(localpart);
        if (server.IsEmpty)
        {
            throw new ArgumentException("A server name is required.", nameof(server));
        }

        string value = "@" + localpart + ":" + server.Value;
        return TryParse(value, out var result, out var error) ? result : throw new ArgumentException(error, nameof(localpart));
    }

    private static string? Validate(string value)
    {
        if (value.Length == 0)
        {
            return "A user ID must not be empty.";
        }

        if (value.Length > MaxLength)
        {
            return $"The user ID is {value.Length} characters long; at most {MaxLength} are allowed.";
        }

        if (value[0] != '@')
        {
            return $"The user ID '{value}' must start with '@'.";
        }

        int colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return $"The user ID '{value}' has no ':' between the localpart and the server name.";
        }

        if (colon == 1)
        {
            return $"The user ID '{value}' has an empty localpart.";
        }

        foreach (char c in value.AsSpan(1, colon - 1))
        {
            // The historical grammar: any printable ASCII character except ':'.
            if (c < '\x21' || c > '\x7E')
            {
                return $"The localpart of user ID '{value}' contains the character U+{(int)c:X4}; only printable ASCII is allowed.";
            }
        }

        string? serverError = ServerName.Validate(value.AsSpan(colon + 1));
        return serverError is null ? null : $"The user ID '{value}' has an invalid server name: {serverError}";
    }

    private static bool IsCurrentLocalpartChar(char c)
        => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '=' or '-' or '/' or '+';

    private static ReadOnlySpan<char> LocalpartSpan(string value) => value.AsSpan(1, value.IndexOf(':', StringComparison.Ordinal) - 1);

    private static ReadOnlySpan<char> ServerSpan(string value) => value.AsSpan(value.IndexOf(':', StringComparison.Ordinal) + 1);

    /// <inheritdoc/>
    public bool Equals(UserId other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is UserId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _value is null ? 0 : string.GetHashCode(_value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public int CompareTo(UserId other) => string.CompareOrdinal(_value, other._value);

    /// <summary>Returns the user ID as text.</summary>
    /// <returns>The user ID, or an empty string for the default value.</returns>
    public override string ToString() => Value;

    /// <summary>Compares two user IDs ordinally.</summary>
    /// <param name="left">The first user ID.</param>
    /// <param name="right">The second user ID.</param>
    /// <returns><see langword="true"/> when they are the same ID.</returns>
    public static bool operator ==(UserId left, UserId right) => left.Equals(right);

    /// <summary>Compares two user IDs ordinally.</summary>
    /// <param name="left">The first user ID.</param>
    /// <param name="right">The second user ID.</param>
    /// <returns><see langword="true"/> when they differ.</returns>
    public static bool operator !=(UserId left, UserId right) => !left.Equals(right);

    /// <summary>Orders two user IDs ordinally.</summary>
    /// <param name="left">The first user ID.</param>
    /// <param name="right">The second user ID.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts first.</returns>
    public static bool operator <(UserId left, UserId right) => left.CompareTo(right) < 0;

    /// <summary>Orders two user IDs ordinally.</summary>
    /// <param name="left">The first user ID.</param>
    /// <param name="right">The second user ID.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> does not sort after <paramref name="right"/>.</returns>
    public static bool operator <=(UserId left, UserId right) => left.CompareTo(right) <= 0;

    /// <summary>Orders two user IDs ordinally.</summary>
    /// <param name="left">The first user ID.</param>
    /// <param name="right">The second user ID.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts last.</returns>
    public static bool operator >(UserId left, UserId right) => left.CompareTo(right) > 0;

    /// <summary>Orders two user IDs ordinally.</summary>
    /// <param name="left">The first user ID.</param>
    /// <param name="right">The second user ID.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> does not sort before <paramref name="right"/>.</returns>
    public static bool operator >=(UserId left, UserId right) => left.CompareTo(right) >= 0;
}
