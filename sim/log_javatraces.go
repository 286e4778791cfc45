package sim

// Java stack traces written after ERROR lines by checkout and cart, one
// record per line as a file tailer reads them.

var springFrames = []string{
	"\tat org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
	"\tat org.springframework.web.servlet.FrameworkServlet.doPost(FrameworkServlet.java:914)",
	"\tat jakarta.servlet.http.HttpServlet.service(HttpServlet.java:590)",
	"\tat org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:195)",
	"\tat org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:140)",
	"\tat org.apache.tomcat.util.threads.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1190)",
	"\tat org.apache.tomcat.util.threads.TaskThread$WrappingRunnable.run(TaskThread.java:63)",
	"\tat java.base/java.lang.Thread.run(Thread.java:1583)",
}

func trace(head []string, tail ...[]string) []string {
	out := append([]string(nil), head...)
	for _, t := range tail {
		out = append(out, t...)
	}
	return out
}

var (
	traceNPE = trace([]string{
		`java.lang.NullPointerException: Cannot invoke "com.shop.checkout.model.Address.getCountryCode()" because the return value of "com.shop.checkout.model.Order.getShippingAddress()" is null`,
		"\tat com.shop.checkout.tax.TaxCalculator.calculate(TaxCalculator.java:87)",
		"\tat com.shop.checkout.service.OrderService.priceOrder(OrderService.java:203)",
		"\tat com.shop.checkout.service.OrderService.placeOrder(OrderService.java:142)",
		"\tat com.shop.checkout.web.CheckoutController.checkout(CheckoutController.java:58)",
		"\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
	}, springFrames)

	traceReservation = trace([]string{
		"java.lang.IllegalStateException: Inventory reservation expired before payment completed",
		"\tat com.shop.checkout.service.InventoryService.confirm(InventoryService.java:121)",
		"\tat com.shop.checkout.service.OrderService.placeOrder(OrderService.java:156)",
		"\tat com.shop.checkout.web.CheckoutController.checkout(CheckoutController.java:58)",
	}, springFrames)

	traceJDBC = []string{
		"org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection",
		"\tat org.springframework.jdbc.datasource.DataSourceUtils.getConnection(DataSourceUtils.java:84)",
		"\tat org.springframework.jdbc.core.JdbcTemplate.execute(JdbcTemplate.java:653)",
		"\tat com.shop.checkout.repository.OrderRepository.insert(OrderRepository.java:64)",
		"\tat com.shop.checkout.service.OrderService.placeOrder(OrderService.java:149)",
		"\tat com.shop.checkout.web.CheckoutController.checkout(CheckoutController.java:58)",
		"Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 5000ms (total=0, active=0, idle=0, waiting=9)",
		"\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:686)",
		"\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:179)",
		"\tat com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:100)",
		"\t... 52 common frames omitted",
		"Caused by: org.postgresql.util.PSQLException: Connection to db-prod-1:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.",
		"\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:346)",
		"\tat org.postgresql.jdbc.PgConnection.<init>(PgConnection.java:273)",
		"\t... 58 common frames omitted",
		"Caused by: java.net.ConnectException: Connection refused",
		"\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)",
		"\tat java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:542)",
		"\tat java.base/java.net.Socket.connect(Socket.java:751)",
		"\t... 61 common frames omitted",
	}

	traceSerialize = []string{
		"org.springframework.dao.CannotAcquireLockException: PreparedStatementCallback; SQL [UPDATE inventory SET reserved = reserved + ? WHERE product_id = ?]; ERROR: could not serialize access due to concurrent update",
		"\tat org.springframework.jdbc.support.SQLStateSQLExceptionTranslator.doTranslate(SQLStateSQLExceptionTranslator.java:119)",
		"\tat com.shop.checkout.repository.InventoryRepository.reserve(InventoryRepository.java:48)",
		"\tat com.shop.checkout.service.InventoryService.reserve(InventoryService.java:77)",
		"Caused by: org.postgresql.util.PSQLException: ERROR: could not serialize access due to concurrent update",
		"\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2725)",
		"\t... 61 common frames omitted",
	}

	traceCartClient = []string{
		"org.springframework.web.client.HttpServerErrorException$InternalServerError: 500 Internal Server Error: \"{\"error\":\"cart unavailable\"}\"",
		"\tat org.springframework.web.client.HttpServerErrorException.create(HttpServerErrorException.java:102)",
		"\tat org.springframework.web.client.StatusHandler.lambda$defaultHandler$3(StatusHandler.java:86)",
		"\tat com.shop.checkout.client.CartClient.lock(CartClient.java:41)",
		"\tat com.shop.checkout.service.OrderService.placeOrder(OrderService.java:131)",
	}

	tracePaymentClient = []string{
		"org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://payments:8080/v1/charges\": Read timed out",
		"\tat org.springframework.web.client.RestTemplate.createResourceAccessException(RestTemplate.java:915)",
		"\tat com.shop.checkout.client.PaymentClient.charge(PaymentClient.java:57)",
		"\tat com.shop.checkout.service.OrderService.placeOrder(OrderService.java:152)",
		"Caused by: java.net.SocketTimeoutException: Read timed out",
		"\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)",
		"\t... 57 common frames omitted",
	}

	traceJedisTimeout = trace([]string{
		"redis.clients.jedis.exceptions.JedisConnectionException: java.net.SocketTimeoutException: Read timed out",
		"\tat redis.clients.jedis.util.RedisInputStream.ensureFill(RedisInputStream.java:208)",
		"\tat redis.clients.jedis.util.RedisInputStream.readByte(RedisInputStream.java:46)",
		"\tat redis.clients.jedis.Protocol.process(Protocol.java:126)",
		"\tat redis.clients.jedis.Connection.executeCommand(Connection.java:127)",
		"\tat com.shop.cart.redis.RedisCartRepository.load(RedisCartRepository.java:52)",
		"\tat com.shop.cart.service.CartService.get(CartService.java:38)",
		"\tat com.shop.cart.api.CartController.get(CartController.java:29)",
	}, springFrames[:4], []string{
		"Caused by: java.net.SocketTimeoutException: Read timed out",
		"\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)",
		"\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:68)",
		"\t... 71 common frames omitted",
	})

	traceJedisConnect = trace([]string{
		"redis.clients.jedis.exceptions.JedisConnectionException: Failed to connect to any host resolved for DNS name.",
		"\tat redis.clients.jedis.DefaultJedisSocketFactory.connectToFirstSuccessfulHost(DefaultJedisSocketFactory.java:63)",
		"\tat redis.clients.jedis.DefaultJedisSocketFactory.createSocket(DefaultJedisSocketFactory.java:87)",
		"\tat redis.clients.jedis.Connection.connect(Connection.java:201)",
		"\tat com.shop.cart.redis.RedisCartRepository.load(RedisCartRepository.java:52)",
		"\tat com.shop.cart.api.CartController.get(CartController.java:29)",
	}, springFrames[:4], []string{
		"\tSuppressed: java.net.NoRouteToHostException: No route to host",
		"\t\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)",
		"\t\tat java.base/java.net.Socket.connect(Socket.java:751)",
		"\t\t... 68 more",
	})

	traceCartState = trace([]string{
		"java.lang.IllegalStateException: Cart version conflict: expected 7, found 8",
		"\tat com.shop.cart.service.CartService.update(CartService.java:91)",
		"\tat com.shop.cart.api.CartController.update(CartController.java:47)",
	}, springFrames[:5])
)
