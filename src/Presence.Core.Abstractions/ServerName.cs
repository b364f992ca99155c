using System.Diagnostics.CodeAnalysis;

namespace Presence;

/// <summary>
/// A Matrix server name: a DNS name, an IPv4 literal or a bracketed IPv6 literal, with an optional
/// port (<c>example.org</c>, <c>127.0.0.1:8448</c>, <c>[::1]:8448</c>). Parsed once, validated by the
/// grammar of the Matrix specification's appendices, compared ordinally.
/// </summary>
/// <remarks>The default value is empty (<see cref="IsEmpty"/>) and is not a valid server name. It converts from text through its <see cref="System.ComponentModel.TypeConverter"/>, so configuration binding reads it from a string; a bad value fails with the reason.</remarks>
[System.ComponentModel.TypeConverter(typeof(Internal.ServerNameConverter))]
public readonly struct ServerName : IEquatable<ServerName>, IComparable<ServerName>
{
    /// <summary>The longest server name accepted, in characters.</summary>
    public const int MaxLength = 255;

    private readonly string? _value;

    private ServerName(string value) => _value = value;

    /// <summary>Gets the server name as text, or an empty string for the default value.</summary>
    public string Value => _value ?? string.Empty;

    /// <summary>Gets a value indicating whether this is the default (unset, invalid) value.</summary>
    public bool IsEmpty => _value is null;

    /// <summary>Parses a server name.</summary>
    /// <param name="value">The text to parse.</param>
    /// <returns>The parsed server name.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="FormatException"><paramref name="value"/> is not a valid server name; the message says why.</exception>
    public static ServerName Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, out var result, out var error) ? result : throw new FormatException(error);
    }

    /// <summary>Tries to parse a server name.</summary>
    /// <param name="value">The text to parse.</param>
    /// <param name="result">The parsed server name when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is a valid server name.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, out ServerName result) => TryParse(value, out result, out _);

    /// <summary>Tries to parse a server name and says what is wrong when it is not valid.</summary>
    /// <param name="value">The text to parse.</param>
    /// <param name="result">The parsed server name when the method returns <see langword="true"/>.</param>
    /// <param name="error">Why <paramref name="value"/> is not valid when the method returns <see langword="false"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is a valid server name.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, out ServerName result, [NotNullWhen(false)] out string? error)
    {
        result = default;
        if (value is null)
        {
            error = "A server name is required; the value was null.";
            return false;
        }

        error = Validate(value);
        if (error is not null)
        {
            return false;
        }

        result = new ServerName(value);
        return true;
    }

    /// <summary>Checks a server name's grammar and returns a message naming the problem, or <see langword="null"/> when valid.</summary>
    internal static string? Validate(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            return "A server name must not be empty.";
        }

        if (value.Length > MaxLength)
        {
            return $"The server name is {value.Length} characters long; at most {MaxLength} are allowed.";
        }

        ReadOnlySpan<char> host;
        ReadOnlySpan<char> port = default;
        bool hasPort;
        if (value[0] == '[')
        {
            int close = value.IndexOf(']');
            if (close < 0)
            {
                return $"The server name '{value}' opens an IPv6 literal with '[' but never closes it with ']'.";
            }

            host = value[1..close];
            var rest = value[(close + 1)..];
            hasPort = !rest.IsEmpty;
            if (hasPort)
            {
                if (rest[0] != ':')
                {
                    return $"The server name '{value}' has unexpected text after the IPv6 literal; only ':port' may follow ']'.";
                }

                port = rest[1..];
            }

            if (host.Length < 2 || host.Length > 45)
            {
                return $"The IPv6 literal in '{value}' must be 2 to 45 characters long.";
            }

            foreach (char c in host)
            {
                if (!(char.IsAsciiHexDigit(c) || c == ':' || c == '.'))
                {
                    return $"The IPv6 literal in '{value}' contains '{c}'; only hexadecimal digits, ':' and '.' are allowed.";
                }
            }
        }
        else
        {
            int colon = value.IndexOf(':');
            hasPort = colon >= 0;
            host = hasPort ? value[..colon] : value;
            if (hasPort)
            {
                port = value[(colon + 1)..];
            }

            if (host.IsEmpty)
            {
                return $"The server name '{value}' has no host before the port.";
            }

            foreach (char c in host)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '.'))
                {
                    return $"The server name '{value}' contains '{c}'; a DNS name may hold only letters, digits, '-' and '.'.";
                }
            }
        }

        if (hasPort)
        {
            if (port.IsEmpty || port.Length > 5)
            {
                return $"The port in server name '{value}' must be 1 to 5 digits.";
            }

            int number = 0;
            foreach (char c in port)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return $"The port in server name '{value}' contains '{c}'; only digits are allowed.";
                }

                number = (number * 10) + (c - '0');
            }

            if (number > 65535)
            {
                return $"The port {number} in server name '{value}' is above 65535.";
            }
        }

        return null;
    }

    internal static ServerName FromValidated(string value) => new(value);

    /// <inheritdoc/>
    public bool Equals(ServerName other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ServerName other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _value is null ? 0 : string.GetHashCode(_value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public int CompareTo(ServerName other) => string.CompareOrdinal(_value, other._value);

    /// <summary>Returns the server name as text.</summary>
    /// <returns>The server name, or an empty string for the default value.</returns>
    public override string ToString() => Value;

    /// <summary>Compares two server names ordinally.</summary>
    /// <param name="left">The first server name.</param>
    /// <param name="right">The second server name.</param>
    /// <returns><see langword="true"/> when they are the same name.</returns>
    public static bool operator ==(ServerName left, ServerName right) => left.Equals(right);

    /// <summary>Compares two server names ordinally.</summary>
    /// <param name="left">The first server name.</param>
    /// <param name="right">The second server name.</param>
    /// <returns><see langword="true"/> when they differ.</returns>
    public static bool operator !=(ServerName left, ServerName right) => !left.Equals(right);

    /// <summary>Orders two server names ordinally.</summary>
    /// <param name="left">The first server name.</param>
    /// <param name="right">The second server name.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts first.</returns>
    public static bool operator <(ServerName left, ServerName right) => left.CompareTo(right) < 0;

    /// <summary>Orders two server names ordinally.</summary>
    /// <param name="left">The first server name.</param>
    /// <param name="right">The second server name.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> does not sort after <paramref name="right"/>.</returns>
    public static bool operator <=(ServerName left, ServerName right) => left.CompareTo(right) <= 0;

    /// <summary>Orders two server names ordinally.</summary>
    /// <param name="left">The first server name.</param>
    /// <param name="right">The second server name.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts last.</returns>
    public static bool operator >(ServerName left, ServerName right) => left.CompareTo(right) > 0;

    /// <summary>Orders two server names ordinally.</summary>
    /// <param name="left">The first server name.</param>
    /// <param name="right">The second server name.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> does not sort before <paramref name="right"/>.</returns>
    public static bool operator >=(ServerName left, ServerName right) => left.CompareTo(right) >= 0;
}
